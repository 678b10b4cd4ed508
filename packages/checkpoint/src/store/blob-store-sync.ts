import type { BlobStore } from "./blob-store.ts";

/**
 * Optional capability: synchronous ranged reads. A lazy restore loads a page the moment a guest
 * instruction first touches it, inside a synchronous slice, so it needs a store that can read
 * without awaiting (a local file: `fs.readSync`; memory). Network stores (S3) cannot.
 */
export interface BlobStoreSyncRead {
  /** Same contract as `getRange`, synchronously: `undefined` when the key does not exist. */
  getRangeSync(key: string, offset: number, length: number): Uint8Array | undefined;
}

/** Whether `store` can read ranges synchronously (`BlobStoreSyncRead`). */
export function supportsSyncRead(store: BlobStore): store is BlobStore & BlobStoreSyncRead {
  return typeof (store as Partial<BlobStoreSyncRead>).getRangeSync === "function";
}
