import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import type { LazyPages } from "./vm-lazy.ts";

/** Read-only page of zeros returned for reads of untouched anonymous pages. Never written. */
export const ZERO_PAGE: Uint8Array = new Uint8Array(PAGE_SIZE);

/**
 * Bumped (globally, monotonically) whenever some cached translation may be stale. A vmspace's
 * `generation` is the largest stamp among itself and its objects, so any bump anywhere raises it.
 */
let stampCounter = 0;
export function nextStamp(): number {
  stampCounter += 1;
  return stampCounter;
}

export type VmObjectKind = "anon" | "file";

/**
 * Where an object's pages come from when it has a backend (H1, the vkernel's inner kernel): each
 * page is a page of someone else's memory (memimage) with a physical page number. Pages shared
 * copy-on-write after `copy` are counted by the backend (`ref`/`release`). Without a backend an
 * object allocates plain arrays, as before.
 */
export interface VmPageBackend {
  /** A fresh page (its bytes zeroed by the backend) and its physical page number. */
  alloc(): { page: Uint8Array; phys: number };
  /** One more object holds page `phys` (a copy-on-write share). */
  ref(phys: number): void;
  /** One object no longer holds page `phys`; the last release frees it. */
  release(phys: number): void;
  /** Page `phys` was (or is about to be) written: e.g. set the owner's dirty bit. */
  written(phys: number): void;
}

/**
 * A VM object: a sparse array of 4 KiB pages. Anonymous objects start as zeros; file objects start
 * as a copy-on-read view of `source` (VFS bytes; the object never writes them back).
 *
 * State is plain fields only (the freeze/thaw code saves `pages`, `dirty`, `cow` and identifies the
 * source by `sourcePath`).
 */
export class VmObject {
  readonly id: number;
  readonly kind: VmObjectKind;
  /** Size in pages (the object may be mapped only below it; anon objects grow on demand). */
  sizePages: number;
  /** Materialized pages by index. Absent: zero (anon) or still the source's bytes (file). */
  readonly pages = new Map<number, Uint8Array>();
  /** Pages written since the last `clearDirty`. */
  readonly dirty = new Set<number>();
  /** Pages whose array is shared with another object (after `copy`): copy before writing. */
  readonly cow = new Set<number>();
  /** For file objects: the bytes behind the object and where they came from. */
  source: Uint8Array | null;
  sourcePath: string | null;
  /** Byte offset into `source` of page 0. */
  sourceOffset: number;
  /** Number of map entries referring to this object. */
  refs = 0;
  /** See `nextStamp`. */
  generation = nextStamp();
  /**
   * Indexes for which `pageForRead` handed out ZERO_PAGE: a hart may cache that translation, so
   * materializing one of them must bump the generation. A page first touched by a write was never
   * handed out, and making it present leaves every cached translation valid: no bump (a bump
   * makes every hart on the space flush its whole TLB).
   */
  private readonly zeroLent = new Set<number>();
  /** The page backend (null: plain arrays). Set by the object factory (`VmObjectIds.backend`). */
  backend: VmPageBackend | null = null;
  /** With a backend: the physical page number of each materialized page. */
  readonly phys = new Map<number, number>();
  /** Lazy thaw: pages still in the image, loaded on first touch (null: none). See `vm-lazy.ts`. */
  lazy: LazyPages | null = null;

  constructor(
    id: number,
    kind: VmObjectKind,
    sizePages: number,
    source: { bytes: Uint8Array; path: string; offset: number } | null = null,
  ) {
    this.id = id;
    this.kind = kind;
    this.sizePages = sizePages;
    this.source = source?.bytes ?? null;
    this.sourcePath = source?.path ?? null;
    this.sourceOffset = source?.offset ?? 0;
  }

  /** The page for reading: materialized, file bytes (materialized on first touch), or ZERO_PAGE. */
  pageForRead(index: number): Uint8Array {
    const page = this.pages.get(index) ?? this.faultInLazy(index);
    if (page !== undefined) return page;
    if (this.source !== null) return this.materializeFromSource(index);
    if (this.backend !== null) return this.newPage(index);
    this.zeroLent.add(index);
    return ZERO_PAGE;
  }

  /** A fresh zero page at `index` (from the backend when there is one). */
  private newPage(index: number): Uint8Array {
    let page: Uint8Array;
    if (this.backend !== null) {
      const got = this.backend.alloc();
      page = got.page;
      this.phys.set(index, got.phys);
    } else page = new Uint8Array(PAGE_SIZE);
    this.pages.set(index, page);
    return page;
  }

  /** Drop the page at `index` (its backend page is released). */
  private dropPage(index: number): void {
    this.pages.delete(index);
    const phys = this.phys.get(index);
    if (phys !== undefined) {
      this.phys.delete(index);
      this.backend?.release(phys);
    }
  }

  /** The page for writing: private to this object and marked dirty. */
  pageForWrite(index: number): Uint8Array {
    let page = this.pages.get(index) ?? this.faultInLazy(index);
    if (page === undefined) {
      if (this.source !== null) page = this.materializeFromSource(index);
      else {
        page = this.newPage(index);
        // A hart may hold ZERO_PAGE for this index in its read TLB: make it re-translate.
        if (this.zeroLent.delete(index)) this.generation = nextStamp();
      }
    } else if (this.cow.has(index)) {
      const shared = page;
      const sharedPhys = this.phys.get(index);
      if (this.backend !== null) {
        page = this.newPage(index);
        page.set(shared);
        if (sharedPhys !== undefined) this.backend.release(sharedPhys);
      } else {
        page = shared.slice();
        this.pages.set(index, page);
      }
      this.cow.delete(index);
      // Readers may still cache the shared array.
      this.generation = nextStamp();
    }
    this.dirty.add(index);
    if (this.backend !== null) {
      const phys = this.phys.get(index);
      if (phys !== undefined) this.backend.written(phys);
    }
    return page;
  }

  /** Lazy thaw: load page `index` from the image if it is still there (clean: it equals the image). */
  private faultInLazy(index: number): Uint8Array | undefined {
    if (this.lazy === null || !this.lazy.has(index)) return undefined;
    const bytes = this.lazy.take(index);
    if (this.backend === null) {
      this.pages.set(index, bytes);
      return bytes;
    }
    const page = this.newPage(index);
    page.set(bytes);
    return page;
  }

  private materializeFromSource(index: number): Uint8Array {
    const page = this.newPage(index);
    const source = this.source as Uint8Array;
    const from = this.sourceOffset + index * PAGE_SIZE;
    if (from < source.length) {
      page.set(source.subarray(from, Math.min(from + PAGE_SIZE, source.length)));
      const phys = this.phys.get(index);
      if (phys !== undefined) this.backend?.written(phys);
    }
    return page;
  }

  /** Forget dirty bits (a checkpoint saved them); cached write translations become stale. */
  clearDirty(): void {
    this.dirty.clear();
    this.generation = nextStamp();
  }

  /** Drop pages in [from, to) (munmap of the only mapping, or brk shrink). */
  freePages(from: number, to: number): void {
    this.lazy?.drop(from, to);
    for (const index of [...this.pages.keys()]) {
      if (index >= from && index < to) {
        this.dropPage(index);
        this.cow.delete(index);
        this.dirty.delete(index);
      }
    }
    this.generation = nextStamp();
  }

  /**
   * A copy-on-write copy (for fork): both objects share page arrays until one writes. The caller
   * must bump the generation of every vmspace mapping `this` (done by `nextStamp` here).
   */
  copy(id: number): VmObject {
    const twin = new VmObject(id, this.kind, this.sizePages);
    twin.source = this.source;
    twin.sourcePath = this.sourcePath;
    twin.sourceOffset = this.sourceOffset;
    twin.backend = this.backend;
    twin.lazy = this.lazy?.fork(twin) ?? null;
    for (const [index, page] of this.pages) {
      twin.pages.set(index, page);
      twin.cow.add(index);
      this.cow.add(index);
      const phys = this.phys.get(index);
      if (phys !== undefined) {
        twin.phys.set(index, phys);
        this.backend?.ref(phys);
      }
    }
    for (const index of this.dirty) twin.dirty.add(index);
    this.generation = nextStamp();
    return twin;
  }
}
