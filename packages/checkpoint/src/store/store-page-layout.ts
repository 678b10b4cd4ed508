import type { PackEntry } from "../codec/codec-pack.ts";
import { InvalidArgumentError, NotFoundError } from "../image-errors.ts";
import type { Manifest, VmObjectDraft } from "../model/model-manifest.ts";
import type { Sha256Hex } from "../model/model-values.ts";
import type { PageMap } from "../model/model-vm.ts";
import { HashTable } from "./store-hash-table.ts";

/**
 * Where every page of an image lives, in typed arrays: for each object, the pack of each entry
 * of its page map, as an index into the image's `packs`. A writer keeps the layout of the image
 * it wrote, so the next (incremental) image is built by merging arrays: no pack header is read
 * again and no per-page string or object is made for the pages it inherits.
 */
export interface PageLayout {
  readonly packs: readonly Sha256Hex[];
  /** Object id → pack slot of each entry of its page map, in page map order. */
  readonly slots: ReadonlyMap<number, Uint32Array>;
}

/** A slot for a page whose hash is in none of the image's packs (a damaged image). */
const MISSING = 0xffffffff;

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
  return { packs: manifest.packs, slots };
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
  readonly indexes: number[] = [];
  readonly where: number[] = [];
  private hashBytes = new Uint8Array(32 * 64);
  private ascending = true;
  private seen: Set<number> | undefined;

  /** Record a page; throws when the same index comes twice. */
  add(index: number, hashes: Uint8Array | undefined, at: number, where: number, what: string): void {
    const n = this.indexes.length;
    if (n > 0 && index <= this.indexes[n - 1]!) {
      if (this.ascending) {
        this.ascending = false;
        this.seen = new Set(this.indexes);
      }
    }
    if (!this.ascending) {
      if (this.seen!.has(index)) throw new InvalidArgumentError(what, "streamed twice");
      this.seen!.add(index);
    }
    if ((n + 1) * 32 > this.hashBytes.length) {
      const grown = new Uint8Array(this.hashBytes.length * 2);
      grown.set(this.hashBytes);
      this.hashBytes = grown;
    }
    if (hashes !== undefined) copyHash(hashes, at, this.hashBytes, n * 32);
    this.indexes.push(index);
    this.where.push(where);
  }

  /** Set where page `k` (in the order added) is, once its hash is known. */
  place(k: number, hashes: Uint8Array, at: number, where: number): void {
    copyHash(hashes, at, this.hashBytes, k * 32);
    this.where[k] = where;
  }

  get hashes(): Uint8Array {
    return this.hashBytes;
  }

  /** Positions of the pages in ascending index order. */
  order(): number[] {
    const order = this.indexes.map((_, k) => k);
    if (!this.ascending) order.sort((a, b) => this.indexes[a]! - this.indexes[b]!);
    return order;
  }
}

/** What the writer knows about where its own blobs went. */
export interface WrittenBlobs {
  readonly packs: readonly Sha256Hex[];
  readonly packOfBlob: readonly number[];
}

/**
 * The page maps of a new image and its layout: each object's streamed pages merged over the
 * parent's page map (when the draft says it inherits), then the packs those pages are in.
 */
export function mergeLayout(
  drafts: readonly VmObjectDraft[],
  streamed: ReadonlyMap<number, StreamedPages>,
  parent: { manifest: Pick<Manifest, "objects">; layout: PageLayout } | undefined,
  writer: WrittenBlobs,
): { maps: Map<number, PageMap>; layout: PageLayout } {
  const parentObjects = new Map((parent?.manifest.objects ?? []).map((o) => [o.id, o]));
  const merged = new Map<number, { map: PageMap; refs: Int32Array }>();
  const usedParent = new Uint8Array(parent?.layout.packs.length ?? 0);
  const usedWriter = new Uint8Array(writer.packs.length);

  for (const o of drafts) {
    const baseObject = o.inheritFromParent === true ? parentObjects.get(o.id) : undefined;
    const base = baseObject?.pages;
    const baseSlots = baseObject === undefined ? undefined : parent!.layout.slots.get(o.id);
    const mine = streamed.get(o.id);
    const order = mine?.order() ?? [];
    const capacity = (base?.indexes.length ?? 0) + order.length;
    const indexes: number[] = [];
    const hashes = new Uint8Array(capacity * 32);
    const refs = new Int32Array(capacity);
    const baseCount = base?.indexes.length ?? 0;
    let i = 0;
    for (let j = 0; j <= order.length; j++) {
      // The parent's entries before the next streamed page, copied as one run.
      const k = order[j];
      const next = k === undefined ? Number.POSITIVE_INFINITY : mine!.indexes[k]!;
      let end = i;
      while (end < baseCount && base!.indexes[end]! < next) end++;
      let cut = end;
      while (cut > i && base!.indexes[cut - 1]! >= o.size) cut--; // truncated to the object's size
      if (cut > i) {
        const at = indexes.length;
        hashes.set(base!.hashes.subarray(i * 32, cut * 32), at * 32);
        for (let n = i; n < cut; n++) {
          const slot = baseSlots?.[n] ?? MISSING;
          if (slot === MISSING) {
            const hash = Buffer.from(base!.hashes.subarray(n * 32, n * 32 + 32)).toString("hex");
            throw new NotFoundError(`page ${hash.slice(0, 12)}`, "inherited from a parent that lacks it");
          }
          refs[at + n - i] = slot;
          indexes.push(base!.indexes[n]!);
        }
      }
      i = end;
      if (k === undefined) break;
      if (i < baseCount && base!.indexes[i] === next) i++; // the streamed page replaces the parent's
      const where = mine!.where[k]!;
      if (where !== ZERO_PAGE) {
        hashes.set(mine!.hashes.subarray(k * 32, k * 32 + 32), indexes.length * 32);
        refs[indexes.length] = where;
        indexes.push(next);
      }
    }
    for (let n = 0; n < indexes.length; n++) {
      const ref = refs[n]!;
      if (ref >= 0) usedParent[ref] = 1;
      else usedWriter[writer.packOfBlob[-2 - ref]!] = 1;
    }
    merged.set(o.id, { map: { indexes, hashes: hashes.subarray(0, indexes.length * 32) }, refs });
  }

  // The image lists every pack one of its pages is in, sorted (FORMAT.md §4.1).
  const chosen = new Set<Sha256Hex>();
  for (let slot = 0; slot < usedParent.length; slot++) {
    if (usedParent[slot] === 1) chosen.add(parent!.layout.packs[slot]!);
  }
  for (let n = 0; n < usedWriter.length; n++) if (usedWriter[n] === 1) chosen.add(writer.packs[n]!);
  const packs = [...chosen].sort();
  const slotOf = new Map(packs.map((p, n) => [p, n]));
  const fromParent = Uint32Array.from(parent?.layout.packs ?? [], (p) => slotOf.get(p) ?? MISSING);
  const fromWriter = Uint32Array.from(writer.packs, (p) => slotOf.get(p) ?? MISSING);
  const maps = new Map<number, PageMap>();
  const slots = new Map<number, Uint32Array>();
  for (const [id, { map, refs }] of merged) {
    const out = new Uint32Array(map.indexes.length);
    for (let n = 0; n < out.length; n++) {
      const ref = refs[n]!;
      out[n] = ref >= 0 ? fromParent[ref]! : fromWriter[writer.packOfBlob[-2 - ref]!]!;
    }
    maps.set(id, map);
    slots.set(id, out);
  }
  return { maps, layout: { packs, slots } };
}
