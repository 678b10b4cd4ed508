import type { BlobStore, BlobStoreDeferred, BlobStoreVolatile } from "../store/blob-store.ts";

/**
 * A `BlobStore` for tests that watch or change some calls: every method of the interface goes
 * to `inner`, except those `overrides` gives (which may also add optional capabilities).
 */
export function forwardingStore<T extends Partial<BlobStore & BlobStoreDeferred & BlobStoreVolatile>>(
  inner: BlobStore,
  name: string,
  overrides: T,
): BlobStore & T {
  return {
    specificationVersion: "v1",
    name,
    put: (k, d) => inner.put(k, d),
    putIfAbsent: (k, d) => inner.putIfAbsent(k, d),
    get: (k) => inner.get(k),
    getRange: (k, o, l) => inner.getRange(k, o, l),
    head: (k) => inner.head(k),
    has: (k) => inner.has(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    ...overrides,
  };
}
