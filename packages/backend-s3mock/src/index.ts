export {
  DEFAULT_BUCKET,
  type EmbeddedS3,
  type EmbeddedS3Options,
  generateCredentials,
  type ServeS3MockHandle,
  type ServeS3MockOptions,
  serveS3Mock,
  startEmbeddedS3,
} from "./embedded.ts";
export { S3ConfigError, S3IntegrityError, S3MockError, S3RequestError, S3ServerError } from "./errors.ts";
export {
  createS3Server,
  type S3Server,
  type S3ServerLimits,
  type S3ServerOptions,
  type S3ServerStats,
} from "./server.ts";
export type { S3Faults } from "./server-faults.ts";
export type { S3Credential } from "./server-sigv4.ts";
export type { S3StoreCredentials, S3StoreOptions } from "./store-config.ts";
export { createS3Store, type S3BlobStore } from "./store-s3.ts";
