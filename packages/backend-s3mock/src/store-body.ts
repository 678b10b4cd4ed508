import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";

/**
 * A request body made of several chunks (a pack's head and its payload), sent as they are:
 * no concatenation into one fresh buffer, which costs a copy and a page fault per 4 KiB of new
 * memory. The SDK sees a `ChunkedBody` object; the `vkcChunkedBody` middleware turns it into a
 * fresh stream on every attempt, so the SDK's retries resend it whole.
 *
 * The caller sets `ContentLength` and, when checksums are on, `ChecksumCRC32` (`crc32Base64`):
 * with the checksum header present the SDK neither hashes the body nor switches to aws-chunked.
 */
export class ChunkedBody {
  readonly size: number;

  constructor(readonly chunks: readonly Uint8Array[]) {
    let size = 0;
    for (const c of chunks) size += c.length;
    this.size = size;
  }

  /** A new stream of the chunks (their bytes are not copied). */
  stream(): Readable {
    const buffers = this.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    return Readable.from(buffers, { objectMode: false });
  }
}

/** CRC32 of the chunks taken together, base64 as S3's `x-amz-checksum-crc32` header wants it. */
export function crc32Base64(chunks: readonly Uint8Array[]): string {
  let crc = 0;
  for (const c of chunks) crc = crc32(c, crc);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString("base64");
}

/**
 * Install the middleware that sends `ChunkedBody` bodies as streams, one new stream per attempt
 * (after the retry middleware, so a retried request never gets a half-read stream).
 */
export function addChunkedBodyMiddleware(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown };
      if (!(request.body instanceof ChunkedBody)) return next(args);
      const copy = Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, {
        body: request.body.stream(),
      });
      return next({ ...args, request: copy });
    },
    { step: "finalizeRequest", priority: "low", name: "vkcChunkedBody" },
  );
}
