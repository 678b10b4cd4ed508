import type { PackEntry } from "../codec/codec-pack.ts";
import { InvalidArgumentError, NotFoundError } from "../image-errors.ts";
import type { Manifest, VmObjectDraft } from "../model/model-manifest.ts";
import type { Sha256Hex } from "../model/model-values.ts";
import type { PageMap } from "../model/model-vm.ts";
import { HashTable } from "./store-hash-table.ts";

/**
 * Where every page of an image lives, in typed arrays: for each object, the pack of each entry
 * of its page map, as a slot of `packs`. A writer keeps the layout of the image it wrote, so the
 * next (incremental) image is built by copying runs of arrays: no pack header is read again, no
 * per-page string or object is made, and the pages it inherits keep their slots.
 *
 * That is why `packs` may hold packs none of the image's pages is in any more (`pagesInPack` 0):
 * a child appends its new packs to its parent's slots instead of renumbering every page. The
 * image's own pack list (its manifest's `packs`) is `livePacks(layout)`.
 */
export interface PageLayout {
  readonly packs: readonly Sha256Hex[];
  /** Object id → pack slot of each entry of its page map, in page map order. */
  readonly slots: ReadonlyMap<number, Uint32Array>;
  /** Per slot of `packs`: how many page-map entries of the image are in it. */
  readonly pagesInPack: Uint32Array;
}

/** A slot for a page whose hash is in none of the image's packs (a damaged image). */
const MISSING = 0xffffffff;

/**
 * The packs a layout's pages are in, sorted and each once (an image's `packs`, FORMAT.md §4.1):
 * two slots may name the same pack, when a write stored again exactly a pack its parent has.
 */
export function livePacks(layout: PageLayout): Sha256Hex[] {
  return [...new Set(layout.packs.filter((_, slot) => layout.pagesInPack[slot]! > 0))].sort();
}

/** Count the entries of `slots` per pack slot (MISSING ones are not counted). */
function countSlots(slots: Iterable<Uint32Array>, packCount: number): Uint32Array {
  const counts = new Uint32Array(packCount);
  for (const of of slots) for (let k = 0; k < of.length; k++) if (of[k]! !== MISSING) counts[of[k]!]!++;
  return counts;
}

/**
 * The layout of a stored image from its page maps' `inPack` hints (format 1.3), or `undefined`
 * when an object has none (older images): then `layoutFromIndex` reads every pack header.
 */
export function layoutFromHints(manifest: Pick<Manifest, "objects" | "packs">): PageLayout | undefined {
  const slots = new Map<number, Uint32Array>();
  for (const o of manifest.objects) {
    if (o.pages.inPack === undefined) return undefined;
    slots.set(o.id, o.pages.inPack);
  }
  return { packs: manifest.packs, slots, pagesInPack: countSlots(slots.values(), manifest.packs.length) };
}

/** Each object's `inPack` hints for an image whose `packs` are `imagePacks`, from its layout. */
export function inPackHints(layout: PageLayout, imagePacks: readonly Sha256Hex[]): Map<number, Uint32Array> {
  const position = new Map(imagePacks.map((p, i) => [p, i]));
  const positionOfSlot = Uint32Array.from(layout.packs, (p) => position.get(p) ?? MISSING);
  const out = new Map<number, Uint32Array>();
  for (const [id, slots] of layout.slots) {
    const hints = new Uint32Array(slots.length);
    for (let k = 0; k < slots.length; k++) hints[k] = positionOfSlot[slots[k]!]!;
    out.set(id, hints);
  }
  return out;
}

/** The layout of a stored image from the index of its packs' headers (the slow path). */
export function layoutFromIndex(
  manifest: Pick<Manifest, "objects" | "packs">,
  index: ReadonlyMap<Sha256Hex, { pack: Sha256Hex; entry: PackEntry }>,
): PageLayout {
  const slotOfPack = new Map(manifest.packs.map((p, i) => [p, i]));
  const slots = new Map<number, Uint32Array>();
  for (const o of manifest.objects) {
    const count = o.pages.indexes.length;
    const hex = Buffer.from(o.pages.hashes.buffer, o.pages.hashes.byteOffset, count * 32).toString("hex");
    const out = new Uint32Array(count);
    for (let k = 0; k < count; k++) {
      const pack = index.get(hex.slice(k * 64, k * 64 + 64))?.pack;
      out[k] = pack === undefined ? MISSING : (slotOfPack.get(pack) ?? MISSING);
    }
    slots.set(o.id, out);
  }
  return { packs: manifest.packs, slots, pagesInPack: countSlots(slots.values(), manifest.packs.length) };
}

/** Every page hash of an image → its pack slot: what a child image dedups against. */
export function hashTableOf(manifest: Pick<Manifest, "objects">, layout: PageLayout): HashTable {
  const total = manifest.objects.reduce((n, o) => n + o.pages.indexes.length, 0);
  const table = new HashTable(total);
  for (const o of manifest.objects) {
    const slots = layout.slots.get(o.id);
    if (slots === undefined) continue;
    for (let k = 0; k < slots.length; k++)
      if (slots[k] !== MISSING) table.set(o.pages.hashes, k * 32, slots[k]!);
  }
  return table;
}

/** Where a streamed page's bytes are: a zero page, a pack of the parent, or a blob this write added. */
export const ZERO_PAGE = -1;
/** `where` of the page that is blob `ordinal` of the pack writer. */
export const written = (ordinal: number): number => -2 - ordinal;
/** `where` of a page found in the parent's pack `slot`. */
export const inParent = (slot: number): number => slot;

/** Copy one 32-byte hash (a loop: cheaper than a `subarray` + `set` per page). */
function copyHash(from: Uint8Array, at: number, to: Uint8Array, into: number): void {
  for (let i = 0; i < 32; i++) to[into + i] = from[at + i]!;
}

/** The pages streamed for one object: index, hash (32 bytes each) and where its bytes are. */
export class StreamedPages {
  private indexArray = new Uint32Array(64);
  private whereArray = new Int32Array(64);
  private hashBytes = new Uint8Array(32 * 64);
  private n = 0;
  private ascending = true;
  private seen: Set<number> | undefined;

  /** Pages recorded so far. */
  get count(): number {
    return this.n;
  }

  /** Record a page; throws when the same index comes twice. */
  add(index: number, hashes: Uint8Array | undefined, at: number, where: number, what: string): void {
    const n = this.n;
    if (n > 0 && index <= this.indexArray[n - 1]! && this.ascending) {
      this.ascending = false;
      this.seen = new Set(this.indexArray.subarray(0, n));
    }
    if (!this.ascending) {
      if (this.seen!.has(index)) throw new InvalidArgumentError(what, "streamed twice");
      this.seen!.add(index);
    }
    if (n === this.indexArray.length) this.grow();
    if (hashes !== undefined) copyHash(hashes, at, this.hashBytes, n * 32);
    this.indexArray[n] = index;
    this.whereArray[n] = where;
    this.n = n + 1;
  }

  /** Set where page `k` (in the order added) is, once its hash is known. */
  place(k: number, hashes: Uint8Array, at: number, where: number): void {
    copyHash(hashes, at, this.hashBytes, k * 32);
    this.whereArray[k] = where;
  }

  /** Page index of page `k` (in the order added). */
  indexAt(k: number): number {
    return this.indexArray[k]!;
  }

  /** Where page `k` (in the order added) is. */
  whereAt(k: number): number {
    return this.whereArray[k]!;
  }

  get hashes(): Uint8Array {
    return this.hashBytes;
  }

  /** Positions of the pages in ascending index order. */
  order(): Uint32Array {
    const order = new Uint32Array(this.n);
    for (let k = 0; k < order.length; k++) order[k] = k;
    if (!this.ascending) order.sort((a, b) => this.indexArray[a]! - this.indexArray[b]!);
    return order;
  }

  private grow(): void {
    const size = this.indexArray.length * 2;
    const indexes = new Uint32Array(size);
    indexes.set(this.indexArray);
    const where = new Int32Array(size);
    where.set(this.whereArray);
    const hashes = new Uint8Array(size * 32);
    hashes.set(this.hashBytes);
    this.indexArray = indexes;
    this.whereArray = where;
    this.hashBytes = hashes;
  }
}

/** What the writer knows about where its own blobs went. */
export interface WrittenBlobs {
  readonly packs: readonly Sha256Hex[];
  readonly packOfBlob: readonly number[];
}

/** The page maps of a new image, its layout, and which entries of each map are new in it. */
export interface MergedLayout {
  readonly maps: Map<number, PageMap>;
  readonly layout: PageLayout;
  /** Object id → 1 per page-map entry this write added, 0 per entry inherited from the parent. */
  readonly isNew: Map<number, Uint8Array>;
}

/** Runs shorter than this are copied by a loop: cheaper than three `subarray` views and `set`s. */
const SHORT_RUN = 32;

/** Copy entries `from .. to` of a page map and its slots to position `at` of the output arrays. */
export function copyRun(
  indexes: Uint32Array,
  hashes: Uint8Array,
  slots: Uint32Array,
  from: number,
  to: number,
  outIndexes: Uint32Array,
  outHashes: Uint8Array,
  outSlots: Uint32Array,
  at: number,
): void {
  if (to - from >= SHORT_RUN) {
    outIndexes.set(indexes.subarray(from, to), at);
    outHashes.set(hashes.subarray(from * 32, to * 32), at * 32);
    outSlots.set(slots.subarray(from, to), at);
    return;
  }
  for (let k = from, j = at; k < to; k++, j++) {
    outIndexes[j] = indexes[k]!;
    outSlots[j] = slots[k]!;
    copyHash(hashes, k * 32, outHashes, j * 32);
  }
}

/** First position in ascending `indexes[from ..]` whose value is at least `value`. */
export function lowerBound(indexes: Uint32Array, from: number, value: number): number {
  let lo = from;
  let hi = indexes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (indexes[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position of `value` in ascending `indexes`, or -1. */
export function positionOf(indexes: Uint32Array, value: number): number {
  const at = lowerBound(indexes, 0, value);
  return at < indexes.length && indexes[at] === value ? at : -1;
}

/**
 * The page maps of a new image and its layout: each object's streamed pages merged over the
 * parent's page map (when the draft says it inherits). Runs of inherited entries are found by
 * binary search and copied whole (indexes, hashes and slots alike), and the per-pack counts are
 * carried over and adjusted by what changed, so an incremental image of a large parent costs
 * O(new pages) plus copying its page maps, whatever its size.
 */
export function mergeLayout(
  drafts: readonly VmObjectDraft[],
  streamed: ReadonlyMap<number, StreamedPages>,
  parent: { manifest: Pick<Manifest, "objects">; layout: PageLayout } | undefined,
  writer: WrittenBlobs,
): MergedLayout {
  const parentPacks = parent?.layout.packs ?? [];
  // Slots: the parent's, then the writer's packs (compacted below if too many fall out of use).
  const packs = [...parentPacks, ...writer.packs];
  const counts = new Uint32Array(packs.length);
  if (parent !== undefined) counts.set(parent.layout.pagesInPack);
  const packOfBlob = writer.packOfBlob;
  const parentObjects = new Map((parent?.manifest.objects ?? []).map((o) => [o.id, o]));
  const inherited = new Set<number>();
  const maps = new Map<number, PageMap>();
  const slots = new Map<number, Uint32Array>();
  const isNew = new Map<number, Uint8Array>();

  for (const o of drafts) {
    const baseObject = o.inheritFromParent === true ? parentObjects.get(o.id) : undefined;
    const baseSlots = baseObject === undefined ? undefined : parent!.layout.slots.get(o.id);
    if (baseObject !== undefined) inherited.add(o.id);
    const baseIndexes = baseObject?.pages.indexes ?? new Uint32Array(0);
    const baseHashes = baseObject?.pages.hashes ?? new Uint8Array(0);
    // Entries past the object's (new) size are dropped.
    const baseCount = lowerBound(baseIndexes, 0, o.size);
    if (baseSlots !== undefined) for (let m = baseCount; m < baseSlots.length; m++) counts[baseSlots[m]!]!--;
    const mine = streamed.get(o.id);
    const order = mine?.order() ?? new Uint32Array(0);
    const capacity = baseCount + order.length;
    const indexes = new Uint32Array(capacity);
    const hashes = new Uint8Array(capacity * 32);
    const out = new Uint32Array(capacity);
    const fresh = new Uint8Array(capacity);
    // A parent entry no pack holds (a damaged parent) may be dropped or replaced, not inherited.
    const damaged = baseSlots?.includes(MISSING) === true;
    let n = 0;
    let i = 0;
    const copyBase = (end: number) => {
      if (end <= i) return;
      if (baseSlots === undefined || (damaged && baseSlots.subarray(i, end).includes(MISSING))) {
        let m = i;
        while (baseSlots !== undefined && baseSlots[m] !== MISSING) m++;
        const hash = Buffer.from(baseHashes.subarray(m * 32, m * 32 + 32)).toString("hex");
        throw new NotFoundError(`page ${hash.slice(0, 12)}`, "inherited from a parent that lacks it");
      }
      copyRun(baseIndexes, baseHashes, baseSlots, i, end, indexes, hashes, out, n);
      n += end - i;
      i = end;
    };
    for (let j = 0; j < order.length; j++) {
      const k = order[j]!;
      const index = mine!.indexAt(k);
      copyBase(lowerBound(baseIndexes.subarray(0, baseCount), i, index));
      if (i < baseCount && baseIndexes[i] === index) {
        if (baseSlots !== undefined) counts[baseSlots[i]!]!--; // replaced by the streamed page
        i++;
      }
      const where = mine!.whereAt(k);
      if (where === ZERO_PAGE) continue;
      const slot = where >= 0 ? where : parentPacks.length + packOfBlob[-2 - where]!;
      copyHash(mine!.hashes, k * 32, hashes, n * 32);
      indexes[n] = index;
      out[n] = slot;
      fresh[n] = where >= 0 ? 0 : 1;
      counts[slot]!++;
      n++;
    }
    copyBase(baseCount);
    maps.set(o.id, { indexes: indexes.subarray(0, n), hashes: hashes.subarray(0, n * 32) });
    slots.set(o.id, out.subarray(0, n));
    isNew.set(o.id, fresh.subarray(0, n));
  }
  // The parent's objects this image does not inherit leave their packs.
  for (const [id, of] of parent?.layout.slots ?? [])
    if (!inherited.has(id)) for (let k = 0; k < of.length; k++) if (of[k] !== MISSING) counts[of[k]!]!--;

  const layout = compact({ packs, slots, pagesInPack: counts });
  return { maps, layout, isNew };
}

/**
 * The same layout without the slots of packs none of its pages is in, once those outnumber the
 * packs in use (so a long chain of incrementals does not drag every pack it ever used along).
 */
function compact(layout: PageLayout): PageLayout {
  const live = layout.pagesInPack.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
  if (layout.packs.length - live <= live) return layout;
  const renumber = new Uint32Array(layout.packs.length).fill(MISSING);
  const packs: Sha256Hex[] = [];
  layout.packs.forEach((pack, slot) => {
    if (layout.pagesInPack[slot]! > 0) {
      renumber[slot] = packs.length;
      packs.push(pack);
    }
  });
  const slots = new Map<number, Uint32Array>();
  for (const [id, of] of layout.slots)
    slots.set(
      id,
      of.map((slot) => (slot === MISSING ? MISSING : renumber[slot]!)),
    );
  return { packs, slots, pagesInPack: countSlots(slots.values(), packs.length) };
}
