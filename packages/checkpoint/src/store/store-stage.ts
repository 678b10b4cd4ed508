import { InvalidArgumentError } from "../image-errors.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { PAGE_SIZE, type Sha256Hex } from "../model/model-values.ts";
import type { VmObjectImage } from "../model/model-vm.ts";
import type { ImageStore } from "./image-store-types.ts";
import { sharedHashPool } from "./store-hash-pool.ts";
import { HashTable } from "./store-hash-table.ts";
import { writeKey } from "./store-keys.ts";
import { MarkerHandle, newToken } from "./store-markers.ts";
import { PackWriter } from "./store-pack-writer.ts";
import type { PageLayout } from "./store-page-layout.ts";

/** `entries` values: batch number × this + page in the batch. */
const BATCH_SPAN = 2 ** 21;

/**
 * Pages stored ahead of an image (pre-copy): their page maps and the packs holding them, in the
 * shape `writeImage` takes as `base` (see `WriteImageOptions.base`). Not an image: no manifest
 * names it, and an image written over it lists only the packs its own page maps use.
 */
export interface StagedBase {
  /** The staged pages' maps; `packs`: every pack the stage stored (the keys a write reuses). */
  readonly manifest: Pick<Manifest, "objects" | "packs">;
  /** Slots are positions in `manifest.packs`; packs no staged page is in any more count 0. */
  readonly layout: PageLayout;
  /**
   * Content hash → slot of a pack holding it, built as pages were staged (so a write over the
   * base need not hash every staged page into a table in its pause); -1 for none.
   */
  readonly lookup?: (hashes: Uint8Array, at: number) => number;
}

/** What a stage has stored so far. */
export interface StageStats {
  /** Pages stored (a page staged again after a write counts again). */
  readonly pagesStaged: number;
  readonly packsWritten: number;
  readonly bytesWritten: number;
}

/**
 * A pre-copy staging area in an image store (FORMAT.md §7 "Staged pages"). `put` stores a batch
 * of pages as one pack, named first in the stage's write marker, so gc keeps every staged pack
 * while the stage lives; `base` is a snapshot of the latest content staged for each page, for
 * `writeImage(draft, pages, { base })`; `release` drops the marker once that image is committed
 * (its own marker names the packs it reuses before that). Packs no image came to use are
 * reclaimed by gc as usual.
 */
export class PageStage {
  private readonly marker: MarkerHandle;
  /**
   * Object id → page index → where its latest staged copy is: `batch * BATCH_SPAN + i`, page `i`
   * of `batches[batch]` (no per-page object or array: a stage holds every page of a process).
   */
  private readonly entries = new Map<number, Map<number, number>>();
  /** Per `put`: the pages' digests (32 bytes each) and the slot in `packs` of each page's pack. */
  private readonly batches: { digests: Uint8Array; slots: Uint32Array }[] = [];
  private readonly packs: Sha256Hex[] = [];
  /** Every content staged → the index in `packs` of a pack holding it (filled by `put`). */
  private readonly known = new HashTable();
  private pagesStaged = 0;
  private bytesWritten = 0;
  private released = false;

  constructor(
    private readonly images: ImageStore,
    now: () => number = Date.now,
  ) {
    this.marker = new MarkerHandle(images.blobStore, writeKey(newToken(now())), now);
  }

  /**
   * Store `count` pages as one pack: page `i` is `bytes[i * 4096 ..]`, of object `objectIds[i]`
   * at index `pageIndexes[i]`. The buffer is handed over (hashed in a worker): the caller must
   * not use it afterwards. Resolves once the pack is stored; only then do the pages count as
   * staged (a later `put` of the same page replaces it).
   */
  async put(
    objectIds: readonly number[],
    pageIndexes: readonly number[],
    bytes: Uint8Array,
    count: number,
  ): Promise<void> {
    if (this.released) throw new InvalidArgumentError("stage", "already released");
    if (objectIds.length < count || pageIndexes.length < count || bytes.length < count * PAGE_SIZE)
      throw new InvalidArgumentError("stage batch", `fewer than ${count} pages given`);
    if (count === 0) return;
    if (count >= BATCH_SPAN) throw new InvalidArgumentError("stage batch", `${count} pages is too many`);
    const data = bytes.subarray(0, count * PAGE_SIZE);
    const { data: hashed, digests } = await sharedHashPool().pageDigests(data, PAGE_SIZE);
    const writer = new PackWriter(this.images.blobStore, this.marker, count * PAGE_SIZE, {
      expectedBlobs: count,
    });
    const ordinals: number[] = [];
    for (let i = 0; i < count; i++) {
      const known = writer.ordinalOf(digests, i * 32);
      if (known >= 0) {
        ordinals.push(known);
        continue;
      }
      ordinals.push(writer.claim(digests, i * 32));
      const full = writer.add(digests, i * 32, hashed.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
      if (full !== undefined) await full;
    }
    await writer.flush();
    const first = this.packs.length;
    this.packs.push(...writer.packs);
    const slots = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      slots[i] = first + writer.packOfBlob[ordinals[i]!]!;
      this.known.set(digests, i * 32, slots[i]!);
    }
    const batch = this.batches.length;
    this.batches.push({ digests, slots });
    for (let i = 0; i < count; i++) {
      const id = objectIds[i]!;
      let pages = this.entries.get(id);
      if (pages === undefined) {
        pages = new Map();
        this.entries.set(id, pages);
      }
      pages.set(pageIndexes[i]!, batch * BATCH_SPAN + i);
    }
    this.pagesStaged += count;
    this.bytesWritten += writer.payloadBytes;
  }

  /** Forget staged pages (e.g. of an object that is gone): they are no longer offered as a base. */
  forget(objectId: number, pageIndex?: number): void {
    if (pageIndex === undefined) this.entries.delete(objectId);
    else this.entries.get(objectId)?.delete(pageIndex);
  }

  /** Page indexes staged per object id. */
  staged(): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (const [id, pages] of this.entries) out.set(id, new Set(pages.keys()));
    return out;
  }

  /** A snapshot of what is staged now, as a base for `writeImage` (later `put`s do not change it). */
  base(): StagedBase {
    // Runs in the checkpoint's pause: typed arrays and plain loops, no per-page allocation. The
    // slots are the stage's own pack numbers, so the dedup table kept by `put` serves as it is.
    const packs = [...this.packs];
    const pagesInPack = new Uint32Array(packs.length);
    const objects: VmObjectImage[] = [];
    const layoutSlots = new Map<number, Uint32Array>();
    for (const [id, pages] of this.entries) {
      const sorted = Float64Array.from(pages.keys()).sort();
      const n = sorted.length;
      const indexes = new Uint32Array(n);
      const hashes = new Uint8Array(n * 32);
      const slots = new Uint32Array(n);
      for (let k = 0; k < n; k++) {
        const index = sorted[k]!;
        indexes[k] = index;
        const ref = pages.get(index)!;
        const batch = this.batches[Math.floor(ref / BATCH_SPAN)]!;
        const i = ref % BATCH_SPAN;
        const from = batch.digests;
        for (let j = 0, at = i * 32, to = k * 32; j < 32; j++) hashes[to + j] = from[at + j]!;
        const slot = batch.slots[i]!;
        slots[k] = slot;
        pagesInPack[slot]!++;
      }
      objects.push({ id, kind: "anon", size: 0, pages: { indexes, hashes } });
      layoutSlots.set(id, slots);
    }
    const known = this.known;
    const packCount = packs.length; // later puts add packs this snapshot does not have
    return {
      manifest: { objects, packs },
      layout: { packs, slots: layoutSlots, pagesInPack },
      lookup: (hashes, at) => {
        const slot = known.get(hashes, at);
        return slot < packCount ? slot : -1;
      },
    };
  }

  stats(): StageStats {
    return {
      pagesStaged: this.pagesStaged,
      packsWritten: this.packs.length,
      bytesWritten: this.bytesWritten,
    };
  }

  /** Drop the stage's write marker (after the image over it is committed, or to give up). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.marker.release();
  }
}

/** A new pre-copy stage in `images` (see `PageStage`). */
export function createPageStage(images: ImageStore, options: { now?: () => number } = {}): PageStage {
  return new PageStage(images, options.now);
}
