import { createHash, randomUUID } from "node:crypto";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { assertValidKey, type BlobStore, type BlobStoreStreaming, StoreIOError } from "@vkc/checkpoint";
import { S3IntegrityError, S3RequestError } from "./errors.ts";
import { addChunkedBodyMiddleware, ChunkedBody, crc32Base64 } from "./store-body.ts";
import { type ResolvedS3Options, resolveS3Options, type S3StoreOptions } from "./store-config.ts";
import { cutParts, uploadMultipart } from "./store-multipart.ts";
import { UnixSocketAgent } from "./store-socket.ts";

/**
 * A `BlobStore` (specification v1) on S3 or any S3-compatible server, through the AWS SDK v3.
 * Requests are retried by the SDK (standard mode, `maxAttempts`, exponential backoff with
 * jitter); response bodies are checked here (length, and MD5 against a single-part ETag unless
 * the SDK already checked a full-object checksum) and re-read when short or corrupt, since the
 * SDK cannot retry a body it already handed over.
 */

const WRITER_META = "vkc-writer";
const PREFIX_CHARS = /^[A-Za-z0-9._/-]*$/;

/** The S3 store: a `BlobStore` with `putStream`, its SDK client, and where its keys live. */
export interface S3BlobStore extends BlobStore, BlobStoreStreaming {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket, without slashes at either end ("" for none). */
  readonly prefix: string;
  close(): Promise<void>;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function attemptsOf(err: unknown): number {
  return (err as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
}

function s3CodeOf(err: unknown): string | undefined {
  if (err instanceof S3ServiceException) return err.name;
  const name = (err as { name?: unknown })?.name;
  return typeof name === "string" && statusOf(err) !== undefined ? name : undefined;
}

function isNotFound(err: unknown): boolean {
  const code = s3CodeOf(err);
  return code === "NoSuchKey" || code === "NotFound" || (statusOf(err) === 404 && code !== "NoSuchBucket");
}

/** An error thrown by the caller's chunk producer in putStream: handed back unchanged. */
class ProducerFailure extends Error {
  constructor(readonly error: unknown) {
    super("the chunk producer failed");
  }
}

async function* guarded(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await it.next();
    } catch (error) {
      throw new ProducerFailure(error);
    }
    if (next.done) return;
    yield next.value;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createS3Store(options: S3StoreOptions): S3BlobStore {
  const o: ResolvedS3Options = resolveS3Options(options);
  const client = new S3Client({
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    maxAttempts: o.maxAttempts,
    retryMode: "standard",
    requestChecksumCalculation: o.checksums,
    // Expect: 100-continue costs a round trip and, in the SDK's node handler, a new connection
    // (keep-alive off) for every body over 2 MiB: every pack. Our puts are rarely refused.
    expectContinueHeader: o.expectContinue,
    requestHandler: {
      socketTimeout: o.requestTimeoutMs,
      connectionTimeout: Math.min(o.requestTimeoutMs, 10_000),
      ...(o.socketPath === undefined ? {} : { httpAgent: new UnixSocketAgent(o.socketPath) }),
    },
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
  });
  addChunkedBodyMiddleware(client);
  if (o.unsignedPayload) {
    // Sign uploads without hashing their bodies: SigV4 takes the payload hash from this header
    // when it is set (aws-chunked uploads set their own STREAMING-… value and keep it).
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        const upload =
          context.commandName === "PutObjectCommand" || context.commandName === "UploadPartCommand";
        if (
          upload &&
          request.headers !== undefined &&
          request.headers["x-amz-content-sha256"] === undefined
        ) {
          request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
        }
        return next(args);
      },
      { step: "build", name: "vkcUnsignedPayload" },
    );
  }
  const name = `s3://${o.bucket}${o.prefix === "" ? "" : `/${o.prefix}`}`;
  const Bucket = o.bucket;
  const full = (key: string) => (o.prefix === "" ? key : `${o.prefix}/${key}`);
  let closed = false;

  function fail(operation: string, key: string, err: unknown): StoreIOError {
    if (err instanceof StoreIOError) return err;
    let cause: unknown = err;
    const status = statusOf(err);
    const code = s3CodeOf(err);
    if (code !== undefined) {
      const detail =
        (err as Error).message && (err as Error).message !== "UnknownError"
          ? (err as Error).message
          : "request failed";
      cause = new S3RequestError(code, status, o.bucket, detail.split("\n")[0] as string, { cause: err });
    }
    return new StoreIOError(name, operation, key, { cause });
  }

  /**
   * Run `fn`, re-running it when a response body turned out short or corrupt (the SDK has
   * already retried everything else). Any other error becomes a `StoreIOError`.
   */
  async function run<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof ProducerFailure) throw err.error;
        if (!(err instanceof S3IntegrityError) || attempt >= o.maxAttempts) throw fail(operation, key, err);
        await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  async function readBody(
    res: {
      Body?: { transformToByteArray(): Promise<Uint8Array> } | undefined;
      ContentLength?: number | undefined;
      ETag?: string | undefined;
      ChecksumCRC32?: string | undefined;
      ChecksumCRC32C?: string | undefined;
      ChecksumSHA1?: string | undefined;
      ChecksumSHA256?: string | undefined;
    },
    key: string,
    verifyEtag: boolean,
  ): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray();
    } catch (err) {
      throw new S3IntegrityError(o.bucket, key, `body read failed: ${(err as Error).message}`);
    }
    if (res.ContentLength !== undefined && bytes.length !== res.ContentLength) {
      throw new S3IntegrityError(o.bucket, key, `got ${bytes.length} of ${res.ContentLength} bytes`);
    }
    // A full-object checksum in the response was already checked by the SDK (response
    // checksum validation): then the body needs no second, slower MD5 pass.
    const checked =
      res.ChecksumCRC32 ?? res.ChecksumCRC32C ?? res.ChecksumSHA1 ?? res.ChecksumSHA256 ?? undefined;
    const etag = res.ETag?.replaceAll('"', "");
    if (verifyEtag && checked === undefined && etag !== undefined && /^[0-9a-f]{32}$/.test(etag)) {
      if (createHash("md5").update(bytes).digest("hex") !== etag) {
        throw new S3IntegrityError(o.bucket, key, "body does not match its ETag (MD5)");
      }
    }
    return bytes;
  }

  async function putSingle(
    key: string,
    data: Uint8Array | ChunkedBody,
    ifAbsent: boolean,
    metadata: Record<string, string>,
  ): Promise<void> {
    const chunked = data instanceof ChunkedBody;
    await client.send(
      new PutObjectCommand({
        Bucket,
        Key: full(key),
        // A ChunkedBody goes out as it is (store-body.ts); the SDK's types only know its bodies.
        Body: data as Uint8Array,
        ContentLength: chunked ? data.size : data.length,
        ContentType: "application/octet-stream",
        Metadata: metadata,
        ...(chunked && o.checksums === "WHEN_SUPPORTED" ? { ChecksumCRC32: crc32Base64(data.chunks) } : {}),
        ...(ifAbsent ? { IfNoneMatch: "*" } : {}),
      }),
    );
  }

  /**
   * One value of several chunks: sent chunk by chunk when the payload is unsigned (no copy),
   * else joined, since SigV4 signs the SHA-256 of a body the SDK holds whole.
   */
  function bodyOf(chunks: readonly Uint8Array[], size: number): Uint8Array | ChunkedBody {
    if (chunks.length <= 1) return chunks[0] ?? new Uint8Array(0);
    return o.unsignedPayload ? new ChunkedBody(chunks) : Buffer.concat(chunks, size);
  }

  async function* partsOfArray(data: Uint8Array): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < data.length; off += o.partSize) yield data.subarray(off, off + o.partSize);
  }

  /** Did a write that may have succeeded before its response was lost leave our token there? */
  async function wroteIt(key: string, token: string): Promise<boolean> {
    try {
      const h = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
      return h.Metadata?.[WRITER_META] === token;
    } catch {
      return false;
    }
  }

  /**
   * Write `data` (or a stream of it). Every write carries a unique writer token, so when a
   * retried request finds its own earlier attempt already succeeded (412, or NoSuchUpload on
   * a repeated CompleteMultipartUpload), it can tell that apart from another writer's object.
   */
  async function write(
    key: string,
    source: Uint8Array | AsyncIterable<Uint8Array>,
    ifAbsent: boolean,
  ): Promise<boolean> {
    const token = randomUUID();
    const metadata = { [WRITER_META]: token };
    try {
      if (source instanceof Uint8Array) {
        if (source.length <= o.partSize) await putSingle(key, source, ifAbsent, metadata);
        else
          await uploadMultipart(
            { client, bucket: Bucket, key: full(key), queueSize: o.queueSize, ifAbsent, metadata },
            partsOfArray(source),
          );
      } else {
        // Read up to one part's worth: a value that fits is one PutObject of exactly its size
        // (no part-sized buffer to fill), a longer one goes multipart.
        const chunks = guarded(source);
        const head: Uint8Array[] = [];
        let size = 0;
        let next = await chunks.next();
        while (!next.done && size <= o.partSize) {
          head.push(next.value);
          size += next.value.length;
          if (size <= o.partSize) next = await chunks.next();
        }
        if (next.done) {
          await putSingle(key, bodyOf(head, size), ifAbsent, metadata);
        } else {
          const all = (async function* () {
            yield* head;
            yield* chunks;
          })();
          await uploadMultipart(
            { client, bucket: Bucket, key: full(key), queueSize: o.queueSize, ifAbsent, metadata },
            cutParts(all, o.partSize),
          );
        }
      }
      return true;
    } catch (err) {
      const code = s3CodeOf(err);
      if (code === "PreconditionFailed" || statusOf(err) === 412) {
        return attemptsOf(err) > 1 ? wroteIt(key, token) : false;
      }
      if (code === "NoSuchUpload" && (await wroteIt(key, token))) return true;
      throw err;
    }
  }

  const store: S3BlobStore = {
    specificationVersion: "v1",
    name,
    client,
    bucket: o.bucket,
    prefix: o.prefix,

    async put(key, data) {
      assertValidKey(key);
      await run("put", key, () => write(key, data, false));
    },

    async putIfAbsent(key, data) {
      assertValidKey(key);
      return run("putIfAbsent", key, async () => {
        // A conditional write racing another one may get 409 ConditionalRequestConflict: retry it.
        for (let i = 0; ; i++) {
          try {
            return await write(key, data, true);
          } catch (err) {
            if (statusOf(err) !== 409 || i >= o.maxAttempts) throw err;
            await sleep(20 * 2 ** i);
          }
        }
      });
    },

    async putStream(key, chunks) {
      assertValidKey(key);
      await run("putStream", key, () => write(key, chunks, false));
    },

    async get(key) {
      assertValidKey(key);
      return run("get", key, async () => {
        let res: GetObjectCommandOutput;
        try {
          res = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
        return readBody(res, key, true);
      });
    },

    async getRange(key, offset, length) {
      assertValidKey(key);
      if (!Number.isSafeInteger(offset) || offset < 0)
        throw new RangeError(`getRange offset must be a non-negative integer, got ${offset}`);
      if (!Number.isSafeInteger(length) || length < 0)
        throw new RangeError(`getRange length must be a non-negative integer, got ${length}`);
      if (length === 0) return (await store.head(key)) === undefined ? undefined : new Uint8Array(0);
      return run("getRange", key, async () => {
        let res: Parameters<typeof readBody>[0];
        try {
          res = await client.send(
            new GetObjectCommand({ Bucket, Key: full(key), Range: `bytes=${offset}-${offset + length - 1}` }),
          );
        } catch (err) {
          if (isNotFound(err)) return undefined;
          if (s3CodeOf(err) === "InvalidRange" || statusOf(err) === 416) return new Uint8Array(0);
          throw err;
        }
        const bytes = await readBody(res, key, false);
        if (bytes.length > length)
          throw new S3IntegrityError(o.bucket, key, `asked for ${length} bytes, got ${bytes.length}`);
        return bytes;
      });
    },

    async head(key) {
      assertValidKey(key);
      return run("head", key, async () => {
        try {
          const h = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
          return { size: h.ContentLength ?? 0 };
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      });
    },

    async has(key) {
      return (await store.head(key)) !== undefined;
    },

    async *list(prefix) {
      if (typeof prefix !== "string" || !PREFIX_CHARS.test(prefix)) {
        throw new StoreIOError(name, "list", prefix, {
          cause: new Error("prefix has characters outside [A-Za-z0-9._-/]"),
        });
      }
      const base = o.prefix === "" ? "" : `${o.prefix}/`;
      let token: string | undefined;
      do {
        const page = await run("list", prefix === "" ? "(all)" : prefix, () =>
          client.send(new ListObjectsV2Command({ Bucket, Prefix: base + prefix, ContinuationToken: token })),
        );
        for (const item of page.Contents ?? []) {
          if (item.Key?.startsWith(base)) yield item.Key.slice(base.length);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },

    async delete(key) {
      assertValidKey(key);
      await run("delete", key, async () => {
        try {
          await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
    },
  };
  return store;
}
