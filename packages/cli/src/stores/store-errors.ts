import type { BlobStore, BlobStoreStreaming } from "@vkc/checkpoint";
import { CliError } from "../errors.ts";

/** A store's server cannot be reached (connection refused, unknown host, timeout): exit status 1. */
export class StoreUnreachableError extends CliError {
  constructor(
    readonly endpoint: string,
    store: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super("STORE_UNREACHABLE", `cannot reach S3 endpoint ${endpoint} for store ${store}: ${why}`, options);
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** No S3 credentials were found (the SDK's provider chain came up empty): exit status 1. */
export class StoreCredentialsError extends CliError {
  constructor(store: string, options?: { cause?: unknown }) {
    super(
      "STORE_CREDENTIALS",
      `no S3 credentials for store ${store}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)`,
      options,
    );
  }
}

/** Whether `error` (or an error in its `cause` chain) is the SDK finding no credentials. */
export function missingCredentials(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 8; depth++) {
    if ((e as { name?: unknown }).name === "CredentialsProviderError") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Why `error` (or an error in its `cause` chain) is a failure to reach a server, if it is one. */
export function networkFailure(error: unknown): string | undefined {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in NETWORK_CODES) return `${NETWORK_CODES[code]} (${code})`;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Wrap an S3 `BlobStore` so that a request that cannot reach the server fails with one line
 * naming the endpoint (and one without credentials says which variables to set), instead of the
 * SDK's own error. Keeps `putStream` and `close`.
 */
export function withEndpointErrors(store: BlobStore, endpoint: string): BlobStore {
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
    return async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (error) {
        throw mapped(error);
      }
    };
  };
  const mapped = (error: unknown): unknown => {
    if (missingCredentials(error)) return new StoreCredentialsError(store.name, { cause: error });
    const why = networkFailure(error);
    return why === undefined ? error : new StoreUnreachableError(endpoint, store.name, why, { cause: error });
  };
  const wrapped: BlobStore & Partial<BlobStoreStreaming> = {
    specificationVersion: "v1",
    name: store.name,
    put: guard((key: string, data: Uint8Array) => store.put(key, data)),
    putIfAbsent: guard((key: string, data: Uint8Array) => store.putIfAbsent(key, data)),
    get: guard((key: string) => store.get(key)),
    getRange: guard((key: string, offset: number, length: number) => store.getRange(key, offset, length)),
    head: guard((key: string) => store.head(key)),
    has: guard((key: string) => store.has(key)),
    delete: guard((key: string) => store.delete(key)),
    async *list(prefix: string) {
      try {
        yield* store.list(prefix);
      } catch (error) {
        throw mapped(error);
      }
    },
    close: async () => {
      await store.close?.();
    },
  };
  const streaming = store as Partial<BlobStoreStreaming>;
  if (typeof streaming.putStream === "function") {
    const putStream = streaming.putStream.bind(store);
    wrapped.putStream = guard((key: string, chunks: AsyncIterable<Uint8Array>) => putStream(key, chunks));
  }
  return wrapped;
}

/** `store`, whose `close()` also runs `release` (e.g. stops an embedded server), once. */
export function withRelease(store: BlobStore, release: () => Promise<void>): BlobStore {
  let closed = false;
  const inner = store as BlobStore & Partial<BlobStoreStreaming>;
  const out: BlobStore & Partial<BlobStoreStreaming> = {
    specificationVersion: "v1",
    name: store.name,
    put: (key, data) => inner.put(key, data),
    putIfAbsent: (key, data) => inner.putIfAbsent(key, data),
    get: (key) => inner.get(key),
    getRange: (key, offset, length) => inner.getRange(key, offset, length),
    head: (key) => inner.head(key),
    has: (key) => inner.has(key),
    list: (prefix) => inner.list(prefix),
    delete: (key) => inner.delete(key),
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await inner.close?.();
      } finally {
        await release();
      }
    },
  };
  if (typeof inner.putStream === "function") {
    const putStream = inner.putStream.bind(inner);
    out.putStream = (key, chunks) => putStream(key, chunks);
  }
  return out;
}
