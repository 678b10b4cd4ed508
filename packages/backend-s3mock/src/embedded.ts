import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3ConfigError } from "./errors.ts";
import { createS3Server, type S3Server, type S3ServerOptions } from "./server.ts";
import type { S3Credential } from "./server-sigv4.ts";
import type { S3StoreOptions } from "./store-config.ts";
import { createS3Store, type S3BlobStore } from "./store-s3.ts";

/** vkc's embedded default object store, and the entry point of `vkc s3mock serve`. */

export const DEFAULT_BUCKET = "vkc";

export interface EmbeddedS3Options {
  /** Keep objects in this directory; absent: in memory. */
  dir?: string;
  /** TCP port on 127.0.0.1; absent: a free one. */
  port?: number;
  /** Bucket created at start (default `vkc`). */
  bucket?: string;
}

export interface EmbeddedS3 {
  url: string;
  credentials: S3Credential;
  bucket: string;
  region: string;
  server: S3Server;
  /** A BlobStore on the embedded server's bucket. Stores made here are closed by `close()`. */
  store(opts?: Partial<Omit<S3StoreOptions, "bucket" | "endpoint" | "credentials" | "region">>): S3BlobStore;
  close(): Promise<void>;
}

export function generateCredentials(): S3Credential {
  return {
    accessKeyId: `VKC${randomBytes(8).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString("base64url"),
  };
}

export async function startEmbeddedS3(options: EmbeddedS3Options = {}): Promise<EmbeddedS3> {
  const credentials = generateCredentials();
  const bucket = options.bucket ?? DEFAULT_BUCKET;
  // Its own stores connect through a Unix socket in a private directory (no TCP on loopback);
  // anyone else uses the URL.
  const socketDir = process.platform === "win32" ? undefined : await mkdtemp(join(tmpdir(), "vkc-s3-"));
  let server: S3Server;
  try {
    server = await createS3Server({
      host: "127.0.0.1",
      credentials: [credentials],
      buckets: [bucket],
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.dir === undefined ? {} : { dir: options.dir }),
      ...(socketDir === undefined ? {} : { socketPath: join(socketDir, "s3.sock") }),
    });
  } catch (err) {
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
    throw err;
  }
  const stores = new Set<S3BlobStore>();
  return {
    url: server.url,
    credentials,
    bucket,
    region: server.region,
    server,
    store(opts = {}) {
      const s = createS3Store({
        ...opts,
        bucket,
        endpoint: server.url,
        region: server.region,
        credentials,
        forcePathStyle: true,
        unsignedPayload: opts.unsignedPayload ?? true,
        ...(server.socketPath === undefined ? {} : { socketPath: server.socketPath }),
        env: {},
      });
      stores.add(s);
      return s;
    },
    async close() {
      for (const s of stores) await s.close?.();
      stores.clear();
      await server.close();
      if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
    },
  };
}

export interface ServeS3MockOptions {
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  dir?: string;
  accessKey?: string;
  secretKey?: string;
  region?: string;
  /** Buckets to create at start (default `["vkc"]`). */
  buckets?: string[];
  faults?: S3ServerOptions["faults"];
}

export interface ServeS3MockHandle {
  url: string;
  port: number;
  credentials: S3Credential;
  /** Whether the credentials were generated (the CLI should print them then). */
  generatedCredentials: boolean;
  buckets: string[];
  server: S3Server;
  close(): Promise<void>;
}

/**
 * Start a standalone server for `vkc s3mock serve`. Prints nothing: the CLI reports `url`
 * and the credentials. Without `accessKey`/`secretKey`, fresh ones are generated.
 */
export async function serveS3Mock(opts: ServeS3MockOptions = {}): Promise<ServeS3MockHandle> {
  const given = opts.accessKey !== undefined && opts.secretKey !== undefined;
  if ((opts.accessKey === undefined) !== (opts.secretKey === undefined)) {
    throw new S3ConfigError("accessKey/secretKey", "give both or neither");
  }
  const credentials = given
    ? { accessKeyId: opts.accessKey as string, secretAccessKey: opts.secretKey as string }
    : generateCredentials();
  const buckets = opts.buckets ?? [DEFAULT_BUCKET];
  const server = await createS3Server({
    credentials: [credentials],
    buckets,
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.dir === undefined ? {} : { dir: opts.dir }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.faults === undefined ? {} : { faults: opts.faults }),
  });
  return {
    url: server.url,
    port: server.port,
    credentials,
    generatedCredentials: !given,
    buckets,
    server,
    close: () => server.close(),
  };
}
