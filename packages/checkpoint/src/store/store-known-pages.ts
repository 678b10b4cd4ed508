import type { Manifest } from "../model/model-manifest.ts";
import type { ImageId, Sha256Hex } from "../model/model-values.ts";
import type { PageMap } from "../model/model-vm.ts";
import { HashTable } from "./store-hash-table.ts";
import type { PageLayout } from "./store-page-layout.ts";

/** A table this much larger than the image at hand (plus a floor) is rebuilt from that image. */
const REBUILD_FACTOR = 4;
const REBUILD_FLOOR = 1 << 16;

/**
 * Which pack holds each page content an image store has written or dedup'd against, kept across
 * writes so that an incremental image dedups its few new pages against its parent's many at a
 * cost that grows with the new pages, not with the parent's (issue 8, target 4).
 *
 * One table for the store: content hash → pack (as an ordinal of `packs`). Packs are immutable,
 * so an entry stays true forever; whether a write may reuse it depends only on whether the pack
 * is one of its parent's (the parent's manifest protects only its own packs: FORMAT.md §7), which
 * `parentSlots` answers per write in O(packs). A content stored in two packs keeps the one
 * recorded last, so a reuse can be missed (the page is written again), never made wrongly.
 *
 * `complete` holds the images whose every page is in the table; a parent outside it is added
 * once, O(its pages). The table is rebuilt when it outgrows the image at hand.
 */
export class KnownPages {
  private table = new HashTable();
  private packs: Sha256Hex[] = [];
  private ordinals = new Map<Sha256Hex, number>();
  private readonly complete = new Set<ImageId>();

  /** Make sure every page of image `id` (`manifest`, laid out as `layout`) is in the table. */
  include(id: ImageId, manifest: Pick<Manifest, "objects">, layout: PageLayout): void {
    if (this.complete.has(id)) return;
    const pages = pageCount(manifest.objects);
    if (this.table.size > REBUILD_FACTOR * pages + REBUILD_FLOOR) this.reset();
    this.table.reserve(this.table.size + 2 * pages);
    for (const o of manifest.objects) {
      const slots = layout.slots.get(o.id);
      if (slots !== undefined) this.addPages(o.pages, slots, layout.packs);
    }
    this.complete.add(id);
  }

  /**
   * Record image `id`, written over `from`: its parent, `undefined` for none, or `null` for pages
   * inherited from something that is not an image of the table (a pre-copy stage). Its pages not
   * inherited (`isNew` per page-map entry) are added; unless `from` is complete or none, `id` is
   * not complete either.
   */
  written(
    id: ImageId,
    from: ImageId | undefined | null,
    manifest: Pick<Manifest, "objects">,
    layout: PageLayout,
    isNew: ReadonlyMap<number, Uint8Array>,
  ): void {
    if (from === null || (from !== undefined && !this.complete.has(from))) return;
    if (from === undefined) {
      if (this.table.size > REBUILD_FLOOR) this.reset();
      // Room for as many new pages again as the image has, so its children rarely grow it.
      this.table.reserve(this.table.size + 2 * pageCount(manifest.objects));
    }
    for (const o of manifest.objects) {
      const slots = layout.slots.get(o.id);
      const fresh = isNew.get(o.id);
      if (slots !== undefined && fresh !== undefined) this.addPages(o.pages, slots, layout.packs, fresh);
    }
    this.complete.add(id);
  }

  /**
   * A lookup for a write over a parent laid out as `layout`: the parent's pack slot of the pack
   * holding the content at `hashes[at ..]`, or -1 if none of the parent's packs is known to.
   */
  lookupIn(layout: PageLayout): (hashes: Uint8Array, at: number) => number {
    const slotOf = new Int32Array(this.packs.length).fill(-1);
    layout.packs.forEach((pack, slot) => {
      const ordinal = this.ordinals.get(pack);
      if (ordinal !== undefined && layout.pagesInPack[slot]! > 0) slotOf[ordinal] = slot;
    });
    return (hashes, at) => {
      const ordinal = this.table.get(hashes, at);
      return ordinal < 0 || ordinal >= slotOf.length ? -1 : slotOf[ordinal]!;
    };
  }

  private addPages(map: PageMap, slots: Uint32Array, packs: readonly Sha256Hex[], only?: Uint8Array): void {
    const ordinalOfSlot = packs.map((p) => this.ordinal(p));
    for (let k = 0; k < slots.length; k++) {
      if (only !== undefined && only[k] === 0) continue;
      const ordinal = ordinalOfSlot[slots[k]!];
      if (ordinal !== undefined) this.table.set(map.hashes, k * 32, ordinal);
    }
  }

  private ordinal(pack: Sha256Hex): number {
    let ordinal = this.ordinals.get(pack);
    if (ordinal === undefined) {
      ordinal = this.packs.length;
      this.packs.push(pack);
      this.ordinals.set(pack, ordinal);
    }
    return ordinal;
  }

  private reset(): void {
    this.table = new HashTable();
    this.packs = [];
    this.ordinals = new Map();
    this.complete.clear();
  }
}

function pageCount(objects: Pick<Manifest, "objects">["objects"]): number {
  let n = 0;
  for (const o of objects) n += o.pages.indexes.length;
  return n;
}
