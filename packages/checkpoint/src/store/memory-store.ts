import { assertValidKey, type BlobStore, type BlobStoreStreaming } from "./blob-store.ts";
import type { BlobStoreSyncRead } from "./blob-store-sync.ts";

/**
 * Request and byte counters of a memory store. Every call on a valid key counts as one request,
 * like one HTTP request against S3; `list` counts one request per page.
 */
export interface MemoryStoreStats {
  requests: number;
  puts: number;
  putIfAbsents: number;
  putStreams: number;
  gets: number;
  getRanges: number;
  heads: number;
  hases: number;
  listPages: number;
  deletes: number;
  /** Bytes accepted by put, putIfAbsent (when it wrote) and putStream. */
  bytesWritten: number;
  /** Bytes returned by get and getRange. */
  bytesRead: number;
}

export interface MemoryStoreOptions {
  /** Shown in messages; default `memory:`. */
  name?: string;
  /** Keys per internal `list` page (each page is one request in `stats`); default 1000. */
  listPageSize?: number;
}

export interface MemoryStore extends BlobStore, BlobStoreStreaming, BlobStoreSyncRead {
  /** Live counters, for tests and benchmarks. */
  readonly stats: MemoryStoreStats;
  /** Set every counter back to zero. */
  resetStats(): void;
  /** Number of keys held. */
  readonly size: number;
}

function zeroStats(): MemoryStoreStats {
  return {
    requests: 0,
    puts: 0,
    putIfAbsents: 0,
    putStreams: 0,
    gets: 0,
    getRanges: 0,
    heads: 0,
    hases: 0,
    listPages: 0,
    deletes: 0,
    bytesWritten: 0,
    bytesRead: 0,
  };
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`getRange offset must be a non-negative integer, got ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`getRange length must be a non-negative integer, got ${length}`);
  }
}

/**
 * A `BlobStore` held in process memory. Values are copied in and out, so neither the caller's
 * buffer after `put` nor an array returned by `get` can change what is stored. Keys are listed
 * in ascending byte order (keys are ASCII, so JavaScript string order is byte order).
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): MemoryStore {
  const name = opts.name ?? "memory:";
  const pageSize = opts.listPageSize ?? 1000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`listPageSize must be a positive integer, got ${pageSize}`);
  }
  const blobs = new Map<string, Uint8Array>();
  let stats = zeroStats();

  function count(kind: keyof MemoryStoreStats): void {
    stats.requests++;
    stats[kind]++;
  }

  function read(key: string): Uint8Array | undefined {
    const value = blobs.get(key);
    if (value !== undefined) stats.bytesRead += value.byteLength;
    return value === undefined ? undefined : value.slice();
  }

  /** Bytes [offset, offset + length) of `key` (clipped at its end), for `getRange` and `getRangeSync`. */
  function readRange(key: string, offset: number, length: number): Uint8Array | undefined {
    assertValidKey(key);
    checkRange(offset, length);
    count("getRanges");
    const value = blobs.get(key);
    if (value === undefined) return undefined;
    const slice = value.slice(
      Math.min(offset, value.byteLength),
      Math.min(offset + length, value.byteLength),
    );
    stats.bytesRead += slice.byteLength;
    return slice;
  }

  /** Keys after `after` that start with `prefix`, ascending, at most one page. */
  function page(prefix: string, after: string | undefined): string[] {
    const keys: string[] = [];
    for (const key of blobs.keys()) {
      if (key.startsWith(prefix) && (after === undefined || key > after)) keys.push(key);
    }
    keys.sort();
    return keys.slice(0, pageSize);
  }

  return {
    specificationVersion: "v1",
    name,
    get stats() {
      return stats;
    },
    get size() {
      return blobs.size;
    },
    resetStats() {
      stats = zeroStats();
    },

    async put(key, data) {
      assertValidKey(key);
      count("puts");
      blobs.set(key, new Uint8Array(data));
      stats.bytesWritten += data.byteLength;
    },

    async putIfAbsent(key, data) {
      assertValidKey(key);
      count("putIfAbsents");
      // Check and set happen in one synchronous step, so racing calls cannot both win.
      if (blobs.has(key)) return false;
      blobs.set(key, new Uint8Array(data));
      stats.bytesWritten += data.byteLength;
      return true;
    },

    async putStream(key, chunks) {
      assertValidKey(key);
      count("putStreams");
      const parts: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of chunks) {
        parts.push(new Uint8Array(chunk));
        total += chunk.byteLength;
      }
      const value = new Uint8Array(total);
      let at = 0;
      for (const part of parts) {
        value.set(part, at);
        at += part.byteLength;
      }
      // Stored only once the whole stream was read: a failing producer leaves the key untouched.
      blobs.set(key, value);
      stats.bytesWritten += total;
    },

    async get(key) {
      assertValidKey(key);
      count("gets");
      return read(key);
    },

    getRangeSync: readRange,

    async getRange(key, offset, length) {
      return readRange(key, offset, length);
    },

    async head(key) {
      assertValidKey(key);
      count("heads");
      const value = blobs.get(key);
      return value === undefined ? undefined : { size: value.byteLength };
    },

    async has(key) {
      assertValidKey(key);
      count("hases");
      return blobs.has(key);
    },

    async *list(prefix) {
      let after: string | undefined;
      for (;;) {
        count("listPages");
        const keys = page(prefix, after);
        yield* keys;
        if (keys.length < pageSize) return;
        after = keys[keys.length - 1];
      }
    },

    async delete(key) {
      assertValidKey(key);
      count("deletes");
      blobs.delete(key);
    },

    async close() {},
  };
}
