import type { IncomingMessage } from "node:http";
import { type Checksum, findChecksum, md5Hex, verifyChecksum, verifyContentMd5 } from "./server-checksum.ts";
import { errors, type S3Fault } from "./server-errors.ts";
import { digestBody } from "./server-hash-worker.ts";
import { type AuthResult, EMPTY_SHA256, hmacHex, sameSignature, sha256Hex } from "./server-sigv4.ts";

/**
 * Reading a request body within a size limit, decoding aws-chunked uploads (signed chunks,
 * signed and unsigned trailers), and checking every hash the client sent with it.
 */

/**
 * A request body as the chunks it arrived in: an object's bytes are hashed and written chunk by
 * chunk, never joined into one fresh buffer (a copy and a page fault per 4 KiB of new memory).
 */
export class RequestBody {
  private joined: Buffer | undefined;

  constructor(
    readonly chunks: readonly Buffer[],
    readonly size: number,
    /** The flexible checksum sent with the body (header or trailer), already verified. */
    readonly checksum: Checksum | undefined = undefined,
    private md5: string | undefined = undefined,
  ) {}

  /** The whole body in one buffer (joined on first use: for XML bodies and multipart parts). */
  get data(): Buffer {
    this.joined ??=
      this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
    return this.joined;
  }

  /** MD5 of the body, hex (S3's ETag); large bodies had it computed on a worker as they were read. */
  md5Hex(): string {
    this.md5 ??= md5Hex(this.chunks);
    return this.md5;
  }
}

/** Bodies at least this large are hashed on the worker (server-hash-worker.ts). */
const WORKER_MIN_BYTES = 256 * 1024;

const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const MAX_CHUNK_LINE = 4096;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/** Read at most `max` raw bytes, as they came; more throws EntityTooLarge (and leaves the rest unread). */
function readRaw(req: IncomingMessage, max: number, tooLarge: () => S3Fault): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: unknown, value?: RequestBody) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      if (err) reject(err);
      else resolve(value as RequestBody);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        finish(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish(undefined, new RequestBody(chunks, size)));
    req.once("error", () => finish(errors.incompleteBody()));
    req.once("aborted", () => finish(errors.incompleteBody()));
  });
}

export async function readRequestBody(
  req: IncomingMessage,
  auth: AuthResult,
  maxBytes: number,
): Promise<RequestBody> {
  const mode = auth.payloadHash;
  const streaming = mode.startsWith("STREAMING-");
  const tooLarge = () => errors.entityTooLarge(maxBytes);
  const fields = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") fields.set(k, v);

  let body: RequestBody;
  if (streaming) {
    if (
      mode !== STREAMING_SIGNED &&
      mode !== STREAMING_SIGNED_TRAILER &&
      mode !== STREAMING_UNSIGNED_TRAILER
    ) {
      throw errors.invalidArgument(
        `x-amz-content-sha256 ${mode} is not supported`,
        "x-amz-content-sha256",
        mode,
      );
    }
    const decodedHeader = header(req, "x-amz-decoded-content-length");
    const decodedLength = decodedHeader === undefined ? undefined : Number(decodedHeader);
    if (decodedLength !== undefined && !(Number.isSafeInteger(decodedLength) && decodedLength >= 0)) {
      throw errors.invalidArgument(
        "x-amz-decoded-content-length is not a number",
        "x-amz-decoded-content-length",
        decodedHeader,
      );
    }
    if (decodedLength !== undefined && decodedLength > maxBytes) throw tooLarge();
    // Framing costs at most ~100 bytes per chunk; chunks are >= 8 KiB except the last.
    const raw = await readRaw(req, Math.ceil(maxBytes * 1.05) + 64 * 1024, tooLarge);
    const decoded = decodeAwsChunked(raw.data, auth, mode !== STREAMING_UNSIGNED_TRAILER, maxBytes);
    for (const [k, v] of decoded.trailers) fields.set(k, v);
    if (decodedLength !== undefined && decoded.data.length !== decodedLength) throw errors.incompleteBody();
    body = new RequestBody([decoded.data], decoded.data.length);
  } else {
    const lengthHeader = header(req, "content-length");
    if (lengthHeader !== undefined) {
      const declared = Number(lengthHeader);
      if (declared > maxBytes) throw tooLarge();
    }
    body = await readRaw(req, maxBytes, tooLarge);
    if (lengthHeader !== undefined && Number(lengthHeader) !== body.size) throw errors.incompleteBody();
    if (/^[0-9a-f]{64}$/i.test(mode)) {
      if (sha256Hex(body.chunks) !== mode.toLowerCase()) throw errors.contentSha256Mismatch();
    } else if (mode !== "UNSIGNED-PAYLOAD") {
      throw errors.invalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256",
        "x-amz-content-sha256",
        mode.slice(0, 80),
      );
    }
  }

  const checksum = findChecksum(fields);
  let chunks = body.chunks;
  let md5: string | undefined;
  let crc32: number | undefined;
  if (body.size >= WORKER_MIN_BYTES) {
    const digests = await digestBody(chunks, checksum?.algorithm === "CRC32");
    ({ chunks, md5, crc32 } = digests);
  }
  const sentMd5 = fields.get("content-md5");
  if (sentMd5 !== undefined) verifyContentMd5(sentMd5, md5 ?? chunks);
  if (checksum !== undefined) verifyChecksum(checksum, chunks, crc32);
  return new RequestBody(chunks, body.size, checksum, md5);
}

interface Decoded {
  data: Buffer;
  trailers: Map<string, string>;
}

/**
 * Decode an aws-chunked body: `hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;...]\r\n`
 * then optional trailer lines and a blank line. Signed chunks are verified in a chain
 * seeded by the request signature; a signed trailer by `x-amz-trailer-signature`.
 */
export function decodeAwsChunked(raw: Buffer, auth: AuthResult, signed: boolean, maxBytes: number): Decoded {
  const incomplete = () => errors.incompleteBody();
  const parts: Buffer[] = [];
  let size = 0;
  let pos = 0;
  let previous = auth.signature;

  const readLine = (): string => {
    const end = raw.indexOf("\r\n", pos, "latin1");
    if (end < 0 || end - pos > MAX_CHUNK_LINE) throw incomplete();
    const line = raw.toString("latin1", pos, end);
    pos = end + 2;
    return line;
  };

  for (;;) {
    const line = readLine();
    const semi = line.indexOf(";");
    const sizeText = semi < 0 ? line : line.slice(0, semi);
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText))
      throw errors.invalidArgument("aws-chunked chunk size is not hexadecimal");
    const chunkSize = Number.parseInt(sizeText, 16);
    size += chunkSize;
    if (size > maxBytes) throw errors.entityTooLarge(maxBytes);
    if (pos + chunkSize > raw.length) throw incomplete();
    const chunk = raw.subarray(pos, pos + chunkSize);
    pos += chunkSize;
    if (signed) {
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(semi < 0 ? "" : line.slice(semi + 1));
      if (!m) throw errors.signatureDoesNotMatch();
      const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${auth.amzDate}\n${auth.scope}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(chunk)}`;
      const expected = hmacHex(auth.signingKey, toSign);
      if (!sameSignature(expected, m[1] as string)) throw errors.signatureDoesNotMatch();
      previous = expected;
    }
    if (chunkSize === 0) break;
    parts.push(chunk);
    if (raw.toString("latin1", pos, pos + 2) !== "\r\n") throw incomplete();
    pos += 2;
  }

  const trailers = new Map<string, string>();
  let trailerSignature: string | undefined;
  let canonicalTrailers = "";
  for (;;) {
    if (pos >= raw.length) break; // some clients omit the final blank line
    const line = readLine();
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0) throw errors.invalidArgument("aws-chunked trailer line is malformed");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-amz-trailer-signature") trailerSignature = value;
    else {
      trailers.set(name, value);
      canonicalTrailers += `${name}:${value}\n`;
    }
    if (trailers.size > 16) throw errors.invalidArgument("too many aws-chunked trailers");
  }
  if (signed && trailers.size > 0) {
    if (trailerSignature === undefined) throw errors.signatureDoesNotMatch();
    const toSign = `AWS4-HMAC-SHA256-TRAILER\n${auth.amzDate}\n${auth.scope}\n${previous}\n${sha256Hex(canonicalTrailers)}`;
    if (!sameSignature(hmacHex(auth.signingKey, toSign), trailerSignature))
      throw errors.signatureDoesNotMatch();
  }
  if (pos !== raw.length) throw errors.invalidArgument("data after the end of an aws-chunked body");
  return { data: Buffer.concat(parts, size), trailers };
}
