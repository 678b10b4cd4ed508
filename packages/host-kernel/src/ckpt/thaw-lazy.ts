import type { LazyPageReader, LazyPageRef } from "@vkc/checkpoint";
import { CheckpointError } from "@vkc/checkpoint";
import type { LazyPages } from "../vm/vm-lazy.ts";
import type { VmObject } from "../vm/vm-object.ts";
import { LazyPageError } from "./ckpt-errors.ts";

/** Pages the background loader asks for at once (4 MiB: about one pack, one ranged read). */
const BATCH_PAGES = 1024;

/** How far a lazy restore has come (for the CLI, the bench and tests). */
export interface LazyRestoreProgress {
  /** Non-zero pages of the image's objects, when thawed. */
  readonly total: number;
  /** Pages loaded synchronously because the guest (or the kernel) touched them first. */
  readonly touched: number;
  /** Pages the background loader installed. */
  readonly prefetched: number;
  /** Pages still only in the image (neither loaded nor freed). */
  readonly remaining: number;
}

type BatchItem = { readonly lazy: ObjectLazyPages; readonly index: number };

/**
 * A lazy thaw in progress: every VM object of the image gets an `ObjectLazyPages` (its page map,
 * no bytes); a page is read synchronously when first touched (Firecracker's file-backed guest
 * memory, where the host kernel faults pages in from the mmap'd snapshot file), and `pump`,
 * called by `Kernel.run` between batches of slices, installs the rest in the background, in
 * page-map order, one ranged read of about a pack at a time, while the guest runs (gVisor's
 * background page loading). A page is checked against its SHA-256 in both paths; a damaged one
 * stops the run with `LazyPageError`, never hands out wrong bytes.
 */
export class LazyRestore {
  private readonly lazies: ObjectLazyPages[] = [];
  private inFlight: Promise<void> | null = null;
  private ready: { items: BatchItem[]; pages: Uint8Array[] } | null = null;
  /** A batch whose background read failed: its pages are loaded one by one (precise errors). */
  private failed: BatchItem[] | null = null;
  private exhausted = false;
  total = 0;
  touched = 0;
  prefetched = 0;

  constructor(readonly reader: LazyPageReader) {}

  /** Give `object` the pages `indexes` (ascending) of image object `imageObjectId`, to load lazily. */
  attach(object: VmObject, imageObjectId: number, indexes: Uint32Array): void {
    const lazy = new ObjectLazyPages(
      this,
      object,
      imageObjectId,
      indexes,
      new Uint8Array(indexes.length),
      indexes.length,
    );
    object.lazy = lazy;
    this.total += indexes.length;
    this.register(lazy);
  }

  /** @internal A new set of lazy pages (thaw, or a fork's copy) joins the background order. */
  register(lazy: ObjectLazyPages): void {
    this.lazies.push(lazy);
    this.exhausted = false;
  }

  progress(): LazyRestoreProgress {
    let remaining = 0;
    for (const lazy of this.lazies) remaining += lazy.size;
    return { total: this.total, touched: this.touched, prefetched: this.prefetched, remaining };
  }

  /**
   * Between batches of slices (never inside one): install the pages of a finished background
   * read and start the next one. Throws `LazyPageError` for a page that cannot be loaded.
   */
  pump(): void {
    if (this.failed !== null) {
      const items = this.failed;
      this.failed = null;
      for (const { lazy, index } of items) if (lazy.has(index)) lazy.owner.pageForRead(index);
    }
    if (this.ready !== null) {
      const { items, pages } = this.ready;
      this.ready = null;
      items.forEach((item, k) => {
        if (item.lazy.stage(item.index, pages[k] as Uint8Array)) this.prefetched++;
      });
    }
    if (this.inFlight === null && !this.exhausted) this.startNext();
  }

  /**
   * Load every page still in the image of every mapped object (in the background order), e.g.
   * before timing a run. Objects no map entry holds any more are left to their touches.
   */
  async finish(): Promise<void> {
    for (;;) {
      this.pump();
      if (this.inFlight === null && this.ready === null && this.failed === null) return;
      await this.inFlight;
    }
  }

  private startNext(): void {
    const items = this.nextBatch();
    if (items.length === 0) {
      this.exhausted = true;
      return;
    }
    const refs: LazyPageRef[] = items.map((i) => ({ objectId: i.lazy.imageObjectId, pageIndex: i.index }));
    this.inFlight = this.reader.readPagesAsync(refs).then(
      (pages) => {
        this.ready = { items, pages };
        this.inFlight = null;
      },
      () => {
        this.failed = items;
        this.inFlight = null;
      },
    );
  }

  /** The next pending pages in page-map order (objects in thaw order, then forks' copies). */
  private nextBatch(): BatchItem[] {
    const items: BatchItem[] = [];
    for (const lazy of this.lazies) {
      // An object no map entry holds any more is not worth loading ahead (a touch still loads).
      if (lazy.owner.refs === 0 || lazy.owner.lazy !== lazy) continue;
      lazy.collect(items, BATCH_PAGES - items.length);
      if (items.length >= BATCH_PAGES) break;
    }
    return items;
  }
}

/**
 * The pages of one VM object still in the image (`LazyPages`, see `vm-lazy.ts`): the page map's
 * ascending indexes and one byte per index (1: loaded or freed), so a thaw costs no per-page work.
 */
export class ObjectLazyPages implements LazyPages {
  /** Bytes the background loader read, handed over by the next `take`. */
  private readonly staged = new Map<number, Uint8Array>();
  /** How far the background loader has looked (a position in `indexes`). */
  private cursor = 0;

  constructor(
    private readonly restore: LazyRestore,
    readonly owner: VmObject,
    readonly imageObjectId: number,
    /** Every index the image has for the object, ascending. */
    private readonly indexes: Uint32Array,
    private readonly gone: Uint8Array,
    private left: number,
  ) {}

  /** Pages still waiting. */
  get size(): number {
    return this.left;
  }

  has(index: number): boolean {
    const at = lowerBound(this.indexes, index);
    return this.indexes[at] === index && this.gone[at] === 0;
  }

  take(index: number): Uint8Array {
    this.forget(lowerBound(this.indexes, index));
    const staged = this.staged.get(index);
    if (staged !== undefined) {
      this.staged.delete(index);
      return staged;
    }
    this.restore.touched++;
    try {
      return this.restore.reader.readPageSync(this.imageObjectId, index);
    } catch (cause) {
      const message =
        CheckpointError.isInstance(cause) || cause instanceof Error ? cause.message : String(cause);
      throw new LazyPageError(this.restore.reader.id, this.imageObjectId, index, message, { cause });
    }
  }

  drop(from: number, to: number): void {
    for (let at = lowerBound(this.indexes, from); at < this.indexes.length; at++) {
      if ((this.indexes[at] as number) >= to) break;
      this.forget(at);
    }
  }

  pending(): number[] {
    return Array.from(this.indexes).filter((_, at) => this.gone[at] === 0);
  }

  fork(twin: VmObject): LazyPages {
    // The copy starts its background walk from the beginning: pages of a read still in flight
    // for this object are pending in the copy too.
    const copy = new ObjectLazyPages(
      this.restore,
      twin,
      this.imageObjectId,
      this.indexes,
      this.gone.slice(),
      this.left,
    );
    this.restore.register(copy);
    return copy;
  }

  /** Install background-read `bytes` as page `index` through the object's own path; false if no longer wanted. */
  stage(index: number, bytes: Uint8Array): boolean {
    if (this.owner.lazy !== this || !this.has(index)) return false;
    this.staged.set(index, bytes);
    this.owner.pageForRead(index);
    return true;
  }

  /** Append up to `room` pending pages after the cursor to `items`. */
  collect(items: BatchItem[], room: number): void {
    while (room > 0 && this.cursor < this.indexes.length) {
      const at = this.cursor++;
      if (this.gone[at] !== 0) continue;
      items.push({ lazy: this, index: this.indexes[at] as number });
      room--;
    }
  }

  private forget(at: number): void {
    if (at < this.indexes.length && this.gone[at] === 0) {
      this.gone[at] = 1;
      this.left--;
    }
  }
}

/** The first position in the ascending `indexes` whose value is at least `index`. */
function lowerBound(indexes: Uint32Array, index: number): number {
  let lo = 0;
  let hi = indexes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((indexes[mid] as number) < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
