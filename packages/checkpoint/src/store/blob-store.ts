import { InvalidKeyError } from "../errors.ts";

/**
 * The `BlobStore` plugin interface (specification v1): the only thing a storage backend
 * implements. Everything above it (packs, manifests, refs, verify, gc, copy) is the image
 * store protocol in this package, written once for every backend.
 *
 * Keys are relative, `/`-separated, made of `[A-Za-z0-9._-]` segments (no empty, `.` or `..`
 * segment, no leading `/`), at most 512 bytes. A backend refuses any other key with
 * `InvalidKeyError` before touching storage (`assertValidKey` does the check).
 */
export interface BlobStore {
  readonly specificationVersion: "v1";
  /** A short human name for messages, e.g. `file:/var/lib/vkc` or `s3://bucket/prefix`. */
  readonly name: string;

  /** Store `data` under `key`, replacing any previous value. Atomic: readers see old or new, never a mix. */
  put(key: string, data: Uint8Array): Promise<void>;
  /**
   * Store `data` under `key` only if `key` does not exist. Resolves `true` if this call created it,
   * `false` if the key already existed (its value unchanged). Atomic against concurrent writers:
   * of N racing calls exactly one resolves `true`.
   */
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean>;
  /** The whole value, or `undefined` when the key does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * `length` bytes from `offset` (fewer at the end of the value), or `undefined` when the key does
   * not exist. An offset past the end yields an empty array.
   */
  getRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** Size in bytes, or `undefined` when the key does not exist. */
  head(key: string): Promise<{ size: number } | undefined>;
  has(key: string): Promise<boolean>;
  /** Every key that starts with `prefix` (`""` for all), in ascending byte order, paged internally. */
  list(prefix: string): AsyncIterable<string>;
  /** Remove `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Release connections, servers, handles. Idempotent. */
  close?(): Promise<void>;
}

/** Optional capabilities, detected at run time with the guards below. */
export interface BlobStoreStreaming {
  /** Store a value produced by an async iterable of chunks (for large packs), atomically. */
  putStream(key: string, chunks: AsyncIterable<Uint8Array>): Promise<void>;
}

export function supportsPutStream(store: BlobStore): store is BlobStore & BlobStoreStreaming {
  return typeof (store as Partial<BlobStoreStreaming>).putStream === "function";
}

/** A value written by `putDeferred`, not yet visible: publish it or discard it. */
export interface DeferredPut {
  readonly key: string;
}

/**
 * Deferred durability (group commit): values are written now but become durable and visible
 * only at `publishDeferred`, which syncs them all at once. The image store uses it for packs and
 * publishes them before the manifest that names them, so the manifest (the commit point) never
 * exists before its packs are durable, while the pack writes themselves pay no sync each.
 */
export interface BlobStoreDeferred {
  /** Write a value that no reader sees (and that is not durable) until it is published. */
  putDeferred(key: string, chunks: AsyncIterable<Uint8Array>): Promise<DeferredPut>;
  /** Make the values durable, then visible, each atomically as `putStream` would. */
  publishDeferred(values: readonly DeferredPut[]): Promise<void>;
  /** Drop values never published (on error paths). */
  discardDeferred(values: readonly DeferredPut[]): Promise<void>;
}

export function supportsDeferred(store: BlobStore): store is BlobStore & BlobStoreDeferred {
  const s = store as Partial<BlobStoreDeferred>;
  return typeof s.putDeferred === "function" && typeof s.publishDeferred === "function";
}

/**
 * Writes that must be visible at once but need not survive a crash: write markers, which only
 * coordinate live writers with gc (FORMAT.md §7). A marker lost in a crash belonged to a writer
 * the crash ended too, whose image was never committed or is protected by its own manifest.
 * A backend whose every write costs a sync (a local disk) saves one per marker update.
 */
export interface BlobStoreVolatile {
  /** `put`, atomic and visible to every reader once it resolves, but not made durable. */
  putVolatile(key: string, data: Uint8Array): Promise<void>;
  /** `delete`, likewise not made durable. */
  deleteVolatile(key: string): Promise<void>;
}

export function supportsVolatile(store: BlobStore): store is BlobStore & BlobStoreVolatile {
  const s = store as Partial<BlobStoreVolatile>;
  return typeof s.putVolatile === "function" && typeof s.deleteVolatile === "function";
}

export const MAX_KEY_BYTES = 512;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why `key` is not a valid blob key, or `undefined` when it is. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return "empty key";
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `key longer than ${MAX_KEY_BYTES} bytes`;
  for (const seg of key.split("/")) {
    if (seg === "") return "empty path segment";
    if (seg === "." || seg === "..") return `path segment '${seg}'`;
    if (!SEGMENT.test(seg)) return "characters outside [A-Za-z0-9._-/]";
  }
  return undefined;
}

/** Throw `InvalidKeyError` unless `key` is valid. Backends call this first in every method. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
}
