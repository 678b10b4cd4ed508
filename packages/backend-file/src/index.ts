export { createFileStore, type FileStore, type FileStoreOptions } from "./file-store.ts";
export { describeFsError, FileStoreIOError } from "./file-store-errors.ts";
export { DIR_SUFFIX, MAX_SEGMENT_BYTES, TEMP_DIR } from "./file-store-layout.ts";
