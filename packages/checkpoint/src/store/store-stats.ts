import {
  type BlobStore,
  type BlobStoreDeferred,
  type BlobStoreStreaming,
  type BlobStoreVolatile,
  supportsDeferred,
  supportsPutStream,
  supportsVolatile,
} from "./blob-store.ts";

/** Request and byte counters of everything an image store asked its backend. */
export interface StoreStats {
  requests: number;
  puts: number;
  gets: number;
  rangedGets: number;
  lists: number;
  deletes: number;
  heads: number;
  bytesPut: number;
  bytesGot: number;
}

export function emptyStats(): StoreStats {
  return {
    requests: 0,
    puts: 0,
    gets: 0,
    rangedGets: 0,
    lists: 0,
    deletes: 0,
    heads: 0,
    bytesPut: 0,
    bytesGot: 0,
  };
}

/** `after - before`, field by field. */
export function statsDelta(after: StoreStats, before: StoreStats): StoreStats {
  const out = emptyStats();
  for (const key of Object.keys(out) as (keyof StoreStats)[]) out[key] = after[key] - before[key];
  return out;
}

/**
 * Wrap `inner` so every request is counted into `stats`. Keeps `putStream`, deferred and
 * volatile puts when the backend has them (a deferred put counts as a put; publishing it as
 * nothing more).
 */
export function countingStore(inner: BlobStore, stats: StoreStats): BlobStore {
  const counted: BlobStore &
    Partial<BlobStoreStreaming> &
    Partial<BlobStoreDeferred> &
    Partial<BlobStoreVolatile> = {
    specificationVersion: "v1",
    name: inner.name,
    async put(key, data) {
      stats.requests++;
      stats.puts++;
      stats.bytesPut += data.length;
      await inner.put(key, data);
    },
    async putIfAbsent(key, data) {
      stats.requests++;
      stats.puts++;
      const created = await inner.putIfAbsent(key, data);
      if (created) stats.bytesPut += data.length;
      return created;
    },
    async get(key) {
      stats.requests++;
      stats.gets++;
      const data = await inner.get(key);
      stats.bytesGot += data?.length ?? 0;
      return data;
    },
    async getRange(key, offset, length) {
      stats.requests++;
      stats.rangedGets++;
      const data = await inner.getRange(key, offset, length);
      stats.bytesGot += data?.length ?? 0;
      return data;
    },
    async head(key) {
      stats.requests++;
      stats.heads++;
      return inner.head(key);
    },
    async has(key) {
      stats.requests++;
      stats.heads++;
      return inner.has(key);
    },
    list(prefix) {
      stats.requests++;
      stats.lists++;
      return inner.list(prefix);
    },
    async delete(key) {
      stats.requests++;
      stats.deletes++;
      await inner.delete(key);
    },
  };
  /** A streamed put: one request (counted now), its bytes counted as they pass. */
  const countedChunks = (chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> => {
    stats.requests++;
    stats.puts++;
    return (async function* () {
      for await (const chunk of chunks) {
        stats.bytesPut += chunk.length;
        yield chunk;
      }
    })();
  };
  if (supportsPutStream(inner)) {
    counted.putStream = (key, chunks) => inner.putStream(key, countedChunks(chunks));
  }
  if (supportsDeferred(inner)) {
    counted.putDeferred = (key, chunks) => inner.putDeferred(key, countedChunks(chunks));
    counted.publishDeferred = (values) => inner.publishDeferred(values);
    counted.discardDeferred = (values) => inner.discardDeferred(values);
  }
  if (supportsVolatile(inner)) {
    counted.putVolatile = async (key, data) => {
      stats.requests++;
      stats.puts++;
      stats.bytesPut += data.length;
      await inner.putVolatile(key, data);
    };
    counted.deleteVolatile = async (key) => {
      stats.requests++;
      stats.deletes++;
      await inner.deleteVolatile(key);
    };
  }
  if (inner.close !== undefined) {
    const close = inner.close.bind(inner);
    counted.close = () => close();
  }
  return counted;
}
