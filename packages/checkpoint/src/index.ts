export { CheckpointError, InvalidKeyError, StoreIOError } from "./errors.ts";
export {
  assertValidKey,
  type BlobStore,
  type BlobStoreStreaming,
  keyProblem,
  MAX_KEY_BYTES,
  supportsPutStream,
} from "./store/blob-store.ts";
