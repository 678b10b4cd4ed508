export {
  type BlobStoreTestContext,
  type BlobStoreUnderTest,
  INVALID_KEYS,
  longestValidKey,
  type TestBlobStoreOptions,
  testBlobStore,
} from "./testing/blob-store-suite.ts";
export {
  extractReadmeExamples,
  type PreparedReadmeExamples,
  prepareReadmeExamples,
  type ReadmeExample,
} from "./testing/readme-examples.ts";
export {
  allByteValues,
  bytesDifference,
  chunksOf,
  concatBytes,
  seededBytes,
  textBytes,
} from "./testing/test-bytes.ts";
