import type { VmObject } from "./vm-object.ts";

/**
 * Pages of a VM object that are still in a checkpoint image (a lazy thaw): the object loads one
 * synchronously the first time it is touched (`VmObject.pageForRead`/`pageForWrite`), before its
 * normal path, and a background loader may install the rest between slices. A page loaded this
 * way is clean: it equals the image.
 */
export interface LazyPages {
  /** Whether page `index` is still in the image (not loaded, not freed). */
  has(index: number): boolean;
  /** Read page `index` now (checked against the image); afterwards `has(index)` is false. */
  take(index: number): Uint8Array;
  /** Pages in [from, to) were freed: they must never come back. */
  drop(from: number, to: number): void;
  /** The indexes still in the image, ascending. */
  pending(): number[];
  /** The same pending pages for `twin`, a copy-on-write copy of the object (fork). */
  fork(twin: VmObject): LazyPages;
}

/**
 * Load every page of `object` still in the image, so that code reading `object.pages` directly
 * (freeze, the digest, describe) sees all of them.
 */
export function settleLazy(object: VmObject): void {
  if (object.lazy === null) return;
  for (const index of object.lazy.pending()) object.pageForRead(index);
}
