import {
  type BlobStore,
  CheckpointError,
  createImageStore,
  type ImageStore,
  type ImageStoreOptions,
} from "@vkc/checkpoint";
import { CliError } from "../errors.ts";
import { defaultStoreUrl, openStore } from "./store-registry.ts";

/** The store flags every `vkc images` command takes. */
export interface StoreFlags {
  /** `--store URL`; default `defaultStoreUrl()` (`VKC_STORE`, else a file store in the data dir). */
  store?: string;
  /** `--sign-key KEY`; default `VKC_SIGN_KEY`. Manifests read must carry a matching HMAC. */
  signKey?: string;
  /** `--s3-endpoint URL` for `s3://` stores. */
  s3Endpoint?: string;
}

/** Where a command runs: its environment and working directory (for relative `file:` paths). */
export interface StoreContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** An image store over an opened backend, and its URL. */
export interface ImageSession {
  url: string;
  images: ImageStore;
  blobs: BlobStore;
}

/** The store URL `flags` name (or the default one). */
export function storeUrl(flags: StoreFlags, ctx: StoreContext): string {
  return flags.store ?? defaultStoreUrl(ctx.env);
}

/** The HMAC key from `--sign-key` or `VKC_SIGN_KEY`, if any. */
export function signKey(flags: StoreFlags, ctx: StoreContext): string | undefined {
  const key = flags.signKey ?? ctx.env.VKC_SIGN_KEY;
  return key === undefined || key === "" ? undefined : key;
}

/**
 * Open the store at `url` as an image store, run `fn`, and close the store (and any server it
 * started) whatever happens. "Not found" and "ambiguous" errors get the store's URL appended.
 */
export async function withImageStore<T>(
  url: string,
  flags: StoreFlags,
  ctx: StoreContext,
  fn: (session: ImageSession) => Promise<T>,
  options: Omit<ImageStoreOptions, "signKey"> = {},
): Promise<T> {
  const blobs = await openStore(url, {
    env: ctx.env,
    cwd: ctx.cwd,
    ...(flags.s3Endpoint === undefined ? {} : { s3Endpoint: flags.s3Endpoint }),
  });
  const key = signKey(flags, ctx);
  try {
    const images = createImageStore(blobs, { ...options, ...(key === undefined ? {} : { signKey: key }) });
    return await fn({ url, images, blobs });
  } catch (error) {
    throw withStoreName(error, url);
  } finally {
    await blobs.close?.();
  }
}

function withStoreName(error: unknown, url: string): unknown {
  if (!CheckpointError.isInstance(error)) return error;
  if (error.code !== "NOT_FOUND" && error.code !== "AMBIGUOUS_REF") return error;
  const first = error.message.split("\n")[0] ?? "";
  // Say what to do: list what the store has (an ambiguous prefix: give more of the id).
  const hint = error.code === "NOT_FOUND" ? "list images with 'vkc images ls'" : "give more of the id";
  return new CliError(error.code, `${first} in store ${url} (${hint})`, { cause: error });
}
