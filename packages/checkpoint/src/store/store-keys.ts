import { InvalidArgumentError } from "../image-errors.ts";
import type { ImageId, Sha256Hex } from "../model/model-values.ts";

/**
 * Blob key layout of an image store (every key is a valid `BlobStore` key):
 *   manifests/<image id>   manifest envelope (the commit point)
 *   refs/<name>            UTF-8 image id + "\n"
 *   packs/<sha256>         pack of pages
 *   blobs/<sha256>         standalone blob (embedded executables, large pipe buffers)
 *   writes/<token>         in-progress write marker (protects uncommitted objects from gc)
 *   gc/condemned           gc state: unreachable keys and when they were first seen so
 *   gc/deleting/<token>    gc intent: the keys one gc run is deleting right now (FORMAT.md §7)
 */
export const MANIFESTS = "manifests/";
export const REFS = "refs/";
export const PACKS = "packs/";
export const BLOBS = "blobs/";
export const WRITES = "writes/";
export const GC_STATE = "gc/condemned";
export const GC_DELETING = "gc/deleting/";

export const manifestKey = (id: ImageId): string => `${MANIFESTS}${id}`;
export const refKey = (name: string): string => `${REFS}${name}`;
export const packKey = (hash: Sha256Hex): string => `${PACKS}${hash}`;
export const blobKey = (hash: Sha256Hex): string => `${BLOBS}${hash}`;
export const writeKey = (token: string): string => `${WRITES}${token}`;
export const intentKey = (token: string): string => `${GC_DELETING}${token}`;

const REF_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Refuse ref names that are not one key segment of `[A-Za-z0-9._-]`, starting with a letter or digit. */
export function assertRefName(name: string): void {
  if (!REF_NAME.test(name)) {
    throw new InvalidArgumentError(
      `ref ${JSON.stringify(name.slice(0, 40))}`,
      "names are 1-128 of [A-Za-z0-9._-], starting with a letter or digit",
    );
  }
}
