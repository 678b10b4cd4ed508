import { isAbsolute, resolve } from "node:path";
import type { BlobStore } from "@vkc/checkpoint";
import { UsageError } from "../errors.ts";
import { withEndpointErrors, withRelease } from "./store-errors.ts";

/** What the `s3:` and `s3mock:` schemes need from the command line and environment. */
export interface S3SchemeOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `--s3-endpoint`: wins over `?endpoint=` and the AWS variables. */
  s3Endpoint?: string;
}

/** The AWS SDK warns on stderr about future Node versions; vkc's stderr is for vkc's own messages. */
function quietAwsSdk(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

/** Where `s3://BUCKET/PREFIX` points: bucket, prefix, and the endpoint URL (undefined: AWS itself). */
export interface S3Location {
  bucket: string;
  prefix: string;
  endpoint: string | undefined;
  region: string;
}

export function parseS3Url(url: string, options: S3SchemeOptions): S3Location {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`bad store URL ${url} (expected s3://BUCKET/PREFIX)`);
  }
  const bucket = parsed.hostname;
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,62}$/.test(bucket)) {
    throw new UsageError(`store URL ${url} names no valid bucket (expected s3://BUCKET/PREFIX)`);
  }
  let prefix: string;
  try {
    prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, "");
  } catch {
    throw new UsageError(`bad store URL ${url}: malformed %-escape in the prefix`);
  }
  const { env } = options;
  const endpoint =
    options.s3Endpoint ??
    parsed.searchParams.get("endpoint") ??
    (env.AWS_ENDPOINT_URL_S3 || undefined) ??
    (env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/?#\s]+/.test(endpoint)) {
    throw new UsageError(
      `bad S3 endpoint ${JSON.stringify(endpoint)} (expected http://HOST:PORT or https://HOST)`,
    );
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  return { bucket, prefix, endpoint: endpoint?.replace(/\/+$/, ""), region };
}

/**
 * `s3://BUCKET/PREFIX`: any S3 (AWS, MinIO, Ceph, `vkc s3mock serve`). Credentials and region come
 * from the standard AWS variables (or the SDK's provider chain); the endpoint from `--s3-endpoint`,
 * `?endpoint=`, `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, else AWS.
 */
export async function openS3Store(url: string, options: S3SchemeOptions): Promise<BlobStore> {
  const where = parseS3Url(url, options);
  quietAwsSdk();
  const { createS3Store } = await import("@vkc/backend-s3mock");
  const store = createS3Store({
    bucket: where.bucket,
    region: where.region,
    env: options.env,
    ...(where.prefix ? { prefix: where.prefix } : {}),
    ...(where.endpoint ? { endpoint: where.endpoint, forcePathStyle: true } : {}),
  });
  return withEndpointErrors(store, where.endpoint ?? `https://s3.${where.region}.amazonaws.com`);
}

/**
 * `s3mock:DIR` (or `s3mock:` for memory): start vkc's S3 server in this process on DIR, and a store
 * over it through the real AWS SDK client. Closing the store stops the server.
 */
export async function openEmbeddedS3Store(url: string, options: S3SchemeOptions): Promise<BlobStore> {
  const raw = url.replace(/^s3mock:(\/\/)?/i, "");
  const [path = "", query = ""] = raw.split("?", 2);
  const params = new URLSearchParams(query);
  const dir = path === "" ? undefined : isAbsolute(path) ? path : resolve(options.cwd, path);
  const prefix = (params.get("prefix") ?? "").replace(/^\/+|\/+$/g, "");
  quietAwsSdk();
  const { startEmbeddedS3 } = await import("@vkc/backend-s3mock");
  const embedded = await startEmbeddedS3(dir === undefined ? {} : { dir });
  const store = embedded.store(prefix ? { prefix } : {});
  return withRelease(withEndpointErrors(store, embedded.url), () => embedded.close());
}
