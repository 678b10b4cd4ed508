import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { BlobStore } from "@vkc/checkpoint";
import { UsageError } from "../errors.ts";
import { openEmbeddedS3Store, openS3Store } from "./store-s3.ts";

/** Options every store factory receives from the command line and environment. */
export interface StoreOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `--s3-endpoint` for `s3://` stores: wins over `?endpoint=` and `AWS_ENDPOINT_URL(_S3)`. */
  s3Endpoint?: string;
}

/** Opens the store a URL names. Registered per scheme (`file`, `s3`, `memory`, ...). */
export type StoreFactory = (url: URL | string, options: StoreOptions) => Promise<BlobStore>;

const factories = new Map<string, StoreFactory>();
const memoryStores = new Map<string, BlobStore>();

/** Register a backend under a URL scheme (without the colon). Later registrations win. */
export function registerStoreScheme(scheme: string, factory: StoreFactory): void {
  factories.set(scheme.toLowerCase(), factory);
}

registerStoreScheme("file", async (url, { cwd }) => {
  const { createFileStore } = await import("@vkc/backend-file");
  return createFileStore({ root: filePath(url, cwd) });
});

registerStoreScheme("memory", async (url) => {
  const name = String(url).replace(/^memory:/i, "");
  let store = memoryStores.get(name);
  if (!store) {
    const { createMemoryStore } = await import("@vkc/checkpoint");
    store = createMemoryStore();
    memoryStores.set(name, store);
  }
  return store;
});

registerStoreScheme("s3", (url, options) => openS3Store(String(url), options));

registerStoreScheme("s3mock", (url, options) => openEmbeddedS3Store(String(url), options));

/** The default store: `VKC_STORE`, else a file store in the user's data directory. */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VKC_STORE) return env.VKC_STORE;
  const data = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return `file:${join(data, "vkc", "store")}`;
}

/**
 * Open the store that `url` names: `file:PATH` (relative to cwd), `s3://BUCKET/PREFIX`
 * (endpoint from `--s3-endpoint`, `?endpoint=` or the standard AWS variables, credentials from
 * the AWS variables), `s3mock:DIR` (vkc's S3 server started in this process on DIR, `s3mock:`
 * in memory; stopped by the store's `close()`), `memory:NAME` (one per name, for this process).
 * A bare path is taken as `file:`. Close the store when done (`await store.close?.()`).
 */
export async function openStore(
  url: string = defaultStoreUrl(),
  options: StoreOptions = { env: process.env, cwd: process.cwd() },
): Promise<BlobStore> {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!match || match[1]!.length === 1 /* a Windows drive letter */) {
    return factories.get("file")!(`file:${url}`, options);
  }
  const scheme = match[1]!.toLowerCase();
  const factory = factories.get(scheme);
  if (!factory) {
    const known = [...factories.keys()].map((s) => `${s}:`).join(", ");
    throw new UsageError(`unknown store scheme '${scheme}:' in ${url} (known: ${known})`);
  }
  return factory(url, options);
}

function filePath(url: URL | string, cwd: string): string {
  const raw = typeof url === "string" ? url.replace(/^file:(\/\/)?/i, "") : url.pathname;
  if (!raw) throw new UsageError("file store URL names no directory (expected file:PATH)");
  return isAbsolute(raw) ? raw : resolve(cwd, raw);
}
