import { S3ConfigError } from "./errors.ts";

/** Options of `createS3Store`, and how they combine with the standard AWS environment variables. */

export interface S3StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  bucket: string;
  /** Keys are stored under `<prefix>/` in the bucket (default: the bucket's root). */
  prefix?: string;
  /** S3-compatible endpoint, e.g. `http://127.0.0.1:9000`. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS. */
  endpoint?: string;
  /** Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`. */
  region?: string;
  /** Default: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the SDK's provider chain. */
  credentials?: S3StoreCredentials;
  /** Path-style URLs (`endpoint/bucket/key`). Default: true when an endpoint is set (MinIO, Ceph, s3mock), else false. */
  forcePathStyle?: boolean;
  /** Attempts per request, including the first (default 5), with the SDK's exponential backoff. */
  maxAttempts?: number;
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). Larger values are uploaded in parts. */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). */
  queueSize?: number;
  /** Socket inactivity timeout per request in ms (default 30 000), so a stalled server cannot hang a call. */
  requestTimeoutMs?: number;
  /**
   * When the client adds CRC32 checksums to uploads: `WHEN_SUPPORTED` (SDK default; s3mock, AWS and
   * current MinIO verify them) or `WHEN_REQUIRED` (for older S3-compatible servers).
   */
  checksums?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /**
   * Sign uploads with `UNSIGNED-PAYLOAD` instead of the body's SHA-256 (default false), so
   * neither the client nor the server hashes every byte for the signature. The body is still
   * checked end to end by its CRC32 checksum (with `checksums: "WHEN_SUPPORTED"`), and an image
   * store checks every page's SHA-256 when it reads. The embedded server's store turns it on.
   */
  unsignedPayload?: boolean;
  /**
   * Send `Expect: 100-continue` before bodies of at least this many bytes (default `false`:
   * never). It saves sending a body the server refuses, but costs a round trip, and the SDK's
   * Node handler opens a new connection for every such request.
   */
  expectContinue?: false | number;
  /**
   * Connect through this Unix socket instead of TCP, to a server on this machine that listens
   * there too (`startEmbeddedS3` does). Requests are the same (signed for `endpoint`).
   */
  socketPath?: string;
  /** Environment to read defaults from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

export interface ResolvedS3Options {
  bucket: string;
  prefix: string;
  endpoint: string | undefined;
  region: string;
  credentials: S3StoreCredentials | undefined;
  forcePathStyle: boolean;
  maxAttempts: number;
  partSize: number;
  queueSize: number;
  requestTimeoutMs: number;
  checksums: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  unsignedPayload: boolean;
  expectContinue: false | number;
  socketPath: string | undefined;
}

export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

function positiveInt(
  name: string,
  value: number | undefined,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new S3ConfigError(name, `must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

export function resolveS3Options(opts: S3StoreOptions): ResolvedS3Options {
  const env = opts.env ?? process.env;
  if (typeof opts.bucket !== "string" || opts.bucket === "") throw new S3ConfigError("bucket", "is required");
  const endpoint = opts.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new S3ConfigError("endpoint", `must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  let credentials = opts.credentials;
  if (credentials === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
    if (env.AWS_SESSION_TOKEN) credentials.sessionToken = env.AWS_SESSION_TOKEN;
  }
  const prefix = (opts.prefix ?? "").replace(/^\/+|\/+$/g, "");
  return {
    bucket: opts.bucket,
    prefix,
    endpoint,
    region: opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    credentials,
    forcePathStyle: opts.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: positiveInt("maxAttempts", opts.maxAttempts, 5, 1, 20),
    partSize: positiveInt("partSize", opts.partSize, 8 * 1024 * 1024, MIN_PART_SIZE, MAX_PART_SIZE),
    queueSize: positiveInt("queueSize", opts.queueSize, 4, 1, 64),
    requestTimeoutMs: positiveInt("requestTimeoutMs", opts.requestTimeoutMs, 30_000),
    checksums: opts.checksums ?? "WHEN_SUPPORTED",
    unsignedPayload: opts.unsignedPayload ?? false,
    expectContinue:
      opts.expectContinue === undefined || opts.expectContinue === false
        ? false
        : positiveInt("expectContinue", opts.expectContinue, 0, 0),
    socketPath: opts.socketPath,
  };
}
