export { decodeChecked, type EncodableValue, encodeCanonical, toCborValue } from "./codec/codec-canonical.ts";
export { type CodecLimits, DEFAULT_LIMITS } from "./codec/codec-limits.ts";
export {
  type DecodeManifestOptions,
  decodeManifest,
  type EncodedManifest,
  type EncodeManifestOptions,
  encodeManifest,
} from "./codec/codec-manifest.ts";
export { CheckpointError, InvalidKeyError, StoreIOError } from "./errors.ts";
export {
  AmbiguousRefError,
  IntegrityError,
  InvalidArgumentError,
  InvalidImageError,
  LimitExceededError,
  MalformedCborError,
  NotFoundError,
  ParentChainError,
  SignatureError,
  UnsupportedFormatError,
  UnsupportedStoreError,
  UnsupportedVersionError,
} from "./image-errors.ts";
export {
  diffImages,
  type ImageDiff,
  type ObjectPagesDiff,
  type ProcessDiff,
  type ThreadDiff,
} from "./inspect/inspect-diff.ts";
export { renderDiff, renderSummary } from "./inspect/inspect-render.ts";
export {
  type ImageSummary,
  type PageCounts,
  type ProcessSummary,
  REG_NAMES,
  summarizeImage,
  type ThreadSummary,
} from "./inspect/inspect-summary.ts";
export type {
  DescriptorImage,
  FileDescriptorImage,
  PipeDescriptorImage,
  SocketDatagramImage,
  SocketDescriptorImage,
  TapDescriptorImage,
  TermiosImage,
  TtyDescriptorImage,
} from "./model/model-descriptor.ts";
export {
  type AltStackImage,
  LWP_REG_COUNT,
  type LwpImage,
  type LwpState,
  REG_PC,
  REG_TP,
} from "./model/model-lwp.ts";
export {
  type ClockImage,
  type CreatedInfo,
  type ExecutableRef,
  type FormatVersion,
  IMAGE_FORMAT,
  IMAGE_FORMAT_MAJOR,
  IMAGE_FORMAT_MINOR,
  type Manifest,
  type ManifestDraft,
  type ManifestIntegrity,
  type PageWrite,
  type PrngImage,
  type VmObjectDraft,
} from "./model/model-manifest.ts";
export type { ITimerImage, ProcessImage, SigActionImage } from "./model/model-process.ts";
export {
  type BlobRef,
  type CborMap,
  type CborValue,
  type ImageId,
  PAGE_SHIFT,
  PAGE_SIZE,
  type Sha256Hex,
  type SigSet,
} from "./model/model-values.ts";
export {
  MAP_ENTRY_FLAGS,
  type MapEntryImage,
  type PageMap,
  PROT,
  type VmObjectImage,
  type VmspaceImage,
} from "./model/model-vm.ts";
export {
  assertValidKey,
  type BlobStore,
  type BlobStoreDeferred,
  type BlobStoreStreaming,
  type BlobStoreVolatile,
  type DeferredPut,
  keyProblem,
  MAX_KEY_BYTES,
  supportsDeferred,
  supportsPutStream,
  supportsVolatile,
} from "./store/blob-store.ts";
export { type BlobStoreSyncRead, supportsSyncRead } from "./store/blob-store-sync.ts";
export { createImageStore, pageHashAt, pageMapEntries } from "./store/image-store.ts";
export type {
  CopyOptions,
  CopyReport,
  GcOptions,
  GcReport,
  ImageListing,
  ImageStore,
  ImageStoreOptions,
  VerifyProblem,
  VerifyReport,
  WriteImageOptions,
  WriteResult,
  WriteStats,
} from "./store/image-store-types.ts";
export {
  createMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
  type MemoryStoreStats,
} from "./store/memory-store.ts";
export { walkParentChain } from "./store/store-chain.ts";
export { type LazyPageReader, type LazyPageRef, lazyPageReader } from "./store/store-lazy.ts";
export {
  createPageStage,
  PageStage,
  type StagedBase,
  type StageStats,
} from "./store/store-stage.ts";
export type { StoreStats } from "./store/store-stats.ts";
