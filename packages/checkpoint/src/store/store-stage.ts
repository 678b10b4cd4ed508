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
import { copyRun, lowerBound, type PageLayout, positionOf } from "./store-page-layout.ts";

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
   * Object id → its staged pages, ascending, latest content of each: kept as typed arrays that
   * each `put` replaces (never changes in place), so `base` hands them out as they are and a
   * checkpoint's pause does no per-page work for them.
   */
  private readonly objects = new Map<number, StagedObject>();
  private readonly packs: Sha256Hex[] = [];
  /** Per slot of `packs`: how many of the latest staged pages are in it. */
  private pagesInPack = new Uint32Array(16);
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
    if (this.packs.length > this.pagesInPack.length) {
      const grown = new Uint32Array(Math.max(this.packs.length, this.pagesInPack.length * 2));
      grown.set(this.pagesInPack);
      this.pagesInPack = grown;
    }
    const slots = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      slots[i] = first + writer.packOfBlob[ordinals[i]!]!;
      this.known.set(digests, i * 32, slots[i]!);
    }
    // Each object's pages of the batch, ascending (the last of a page given twice wins).
    const byObject = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const id = objectIds[i]!;
      let list = byObject.get(id);
      if (list === undefined) {
        list = [];
        byObject.set(id, list);
      }
      list.push(i);
    }
    for (const [id, list] of byObject) {
      list.sort((a, b) => pageIndexes[a]! - pageIndexes[b]! || a - b);
      const unique = list.filter(
        (i, k) => k + 1 === list.length || pageIndexes[list[k + 1]!] !== pageIndexes[i],
      );
      this.objects.set(id, this.merged(this.objects.get(id), unique, pageIndexes, digests, slots));
    }
    this.pagesStaged += count;
    this.bytesWritten += writer.payloadBytes;
  }

  /**
   * `old` with the batch's pages `batch` (positions in it, ascending by index) put in: new
   * arrays, inherited runs copied whole; the per-pack counts follow (replaced pages leave theirs).
   */
  private merged(
    old: StagedObject | undefined,
    batch: readonly number[],
    pageIndexes: readonly number[],
    digests: Uint8Array,
    slots: Uint32Array,
  ): StagedObject {
    const before = old ?? EMPTY_OBJECT;
    const n0 = before.indexes.length;
    let added = 0;
    for (const i of batch) if (positionOf(before.indexes, pageIndexes[i]!) < 0) added++;
    const indexes = new Uint32Array(n0 + added);
    const hashes = new Uint8Array((n0 + added) * 32);
    const out = new Uint32Array(n0 + added);
    let n = 0;
    let from = 0;
    for (const i of batch) {
      const index = pageIndexes[i]!;
      const to = lowerBound(before.indexes, from, index);
      copyRun(before.indexes, before.hashes, before.slots, from, to, indexes, hashes, out, n);
      n += to - from;
      from = to;
      if (from < n0 && before.indexes[from] === index) this.pagesInPack[before.slots[from++]!]!--;
      indexes[n] = index;
      hashes.set(digests.subarray(i * 32, i * 32 + 32), n * 32);
      out[n] = slots[i]!;
      this.pagesInPack[slots[i]!]!++;
      n++;
    }
    copyRun(before.indexes, before.hashes, before.slots, from, n0, indexes, hashes, out, n);
    return { indexes, hashes, slots: out };
  }

  /** Forget staged pages (e.g. of an object that is gone): they are no longer offered as a base. */
  forget(objectId: number, pageIndex?: number): void {
    const o = this.objects.get(objectId);
    if (o === undefined) return;
    if (pageIndex === undefined) {
      for (const slot of o.slots) this.pagesInPack[slot]!--;
      this.objects.delete(objectId);
      return;
    }
    const at = positionOf(o.indexes, pageIndex);
    if (at < 0) return;
    this.pagesInPack[o.slots[at]!]!--;
    const n = o.indexes.length - 1;
    const indexes = new Uint32Array(n);
    const hashes = new Uint8Array(n * 32);
    const slots = new Uint32Array(n);
    const rest: StagedObject = { indexes, hashes, slots };
    copyRun(o.indexes, o.hashes, o.slots, 0, at, indexes, hashes, slots, 0);
    copyRun(o.indexes, o.hashes, o.slots, at + 1, n + 1, indexes, hashes, slots, at);
    this.objects.set(objectId, rest);
  }

  /** Page indexes staged per object id. */
  staged(): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (const [id, o] of this.objects) out.set(id, new Set(o.indexes));
    return out;
  }

  /**
   * A snapshot of what is staged now, as a base for `writeImage` (later `put`s do not change it):
   * the stage's own arrays, which puts replace and never change, and its own pack numbers, so the
   * dedup table kept by `put` serves as it is. Nothing per page is done here (it runs in the
   * checkpoint's pause).
   */
  base(): StagedBase {
    const packs = [...this.packs];
    const objects: VmObjectImage[] = [];
    const layoutSlots = new Map<number, Uint32Array>();
    for (const [id, o] of this.objects) {
      objects.push({ id, kind: "anon", size: 0, pages: { indexes: o.indexes, hashes: o.hashes } });
      layoutSlots.set(id, o.slots);
    }
    const known = this.known;
    const packCount = packs.length; // later puts add packs this snapshot does not have
    return {
      manifest: { objects, packs },
      layout: { packs, slots: layoutSlots, pagesInPack: this.pagesInPack.slice(0, packCount) },
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

/** One object's staged pages: ascending indexes, a hash and a pack slot each. */
interface StagedObject {
  readonly indexes: Uint32Array;
  readonly hashes: Uint8Array;
  readonly slots: Uint32Array;
}

const EMPTY_OBJECT: StagedObject = {
  indexes: new Uint32Array(0),
  hashes: new Uint8Array(0),
  slots: new Uint32Array(0),
};

/** A new pre-copy stage in `images` (see `PageStage`). */
export function createPageStage(images: ImageStore, options: { now?: () => number } = {}): PageStage {
  return new PageStage(images, options.now);
}
