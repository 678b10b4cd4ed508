const MARKER = Symbol.for("@vkc/backend-s3mock.error");

/**
 * Base class of every error this package throws itself. `code` is stable (safe to switch on);
 * `message` is one line. `isInstance` works across duplicate installs. Store operations wrap
 * these in `StoreIOError` from `@vkc/checkpoint`, so a caller of a `BlobStore` sees that.
 */
export class S3MockError extends Error {
  readonly [MARKER] = true;
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  static isInstance(value: unknown): value is S3MockError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** An option is missing or out of range (no bucket, bad part size, ...). */
export class S3ConfigError extends S3MockError {
  constructor(option: string, problem: string) {
    super("S3_CONFIG", `s3 option ${option}: ${problem}`);
  }
}

/** An S3 service answered a request with an error, after the client's retries. */
export class S3RequestError extends S3MockError {
  constructor(
    readonly s3Code: string,
    readonly status: number | undefined,
    readonly bucket: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    const http = status === undefined ? "" : ` (HTTP ${status})`;
    super("S3_REQUEST", `S3 ${s3Code}${http} in bucket ${bucket}: ${detail}`, options);
  }
}

/** A response body did not match what its headers promised (short read, wrong MD5). */
export class S3IntegrityError extends S3MockError {
  constructor(bucket: string, key: string, problem: string) {
    super("S3_INTEGRITY", `S3 object ${bucket}/${key}: ${problem}`);
  }
}

/** The S3 server could not start (port in use, unreadable data directory, ...). */
export class S3ServerError extends S3MockError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super("S3_SERVER", `s3mock server: ${problem}`, options);
  }
}
