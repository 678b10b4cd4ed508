import type { CodecLimits } from "../codec/codec-limits.ts";
import {
  decodePackHeader,
  PACK_PREFIX_BYTES,
  type PackEntry,
  packHeaderLength,
} from "../codec/codec-pack.ts";
import {
  IntegrityError,
  InvalidArgumentError,
  NotFoundError,
  UnsupportedStoreError,
} from "../image-errors.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { type ImageId, PAGE_SIZE, type Sha256Hex } from "../model/model-values.ts";
import type { VmObjectImage } from "../model/model-vm.ts";
import type { BlobStore } from "./blob-store.ts";
import { type BlobStoreSyncRead, supportsSyncRead } from "./blob-store-sync.ts";
import { ImageStoreCore } from "./image-store.ts";
import type { ImageStore } from "./image-store-types.ts";
import { sha256Hex } from "./store-hash.ts";
import { packKey } from "./store-keys.ts";
import { packIdOfHead } from "./store-pack-check.ts";
import { positionOf } from "./store-page-layout.ts";

/** First synchronous read of a pack header: usually the whole header. */
const HEADER_PROBE_BYTES = 64 * 1024;

/** One page of one VM object of an image. */
export interface LazyPageRef {
  readonly objectId: number;
  readonly pageIndex: number;
}

/**
 * Reads single pages of one image on demand, for a lazy restore: page → content hash from the
 * object's page map (the manifest's maps are complete, parents' pages included) → pack and
 * offset from the packs' headers → one ranged read, checked against the hash. Never returns bytes
 * that do not match the manifest.
 *
 * The pack index is built as pages are looked for, not up front: a lookup that misses reads the
 * header of the pack the page map's `inPack` hint names (format 1.3), else searches the raw pack
 * headers (each read synchronously once) for the page's hash and decodes only the
 * pack that has it, so a restore's first pages do not wait for every header to be decoded, and
 * the whole index is built once over the restore.
 */
export interface LazyPageReader {
  readonly id: ImageId;
  readonly manifest: Manifest;
  /**
   * Page `pageIndex` of object `objectId`, read now with one synchronous ranged read (zeros
   * for a page not in the map). A fresh array the caller owns. Throws `IntegrityError` for
   * bytes that do not match their hash, `NotFoundError` for a missing pack.
   */
  readPageSync(objectId: number, pageIndex: number): Uint8Array;
  /** Several pages, one ranged get per pack they lie in, each checked; in the order asked. */
  readPagesAsync(pages: readonly LazyPageRef[]): Promise<Uint8Array[]>;
}

type Located = { readonly pack: Sha256Hex; readonly entry: PackEntry };

/**
 * A `LazyPageReader` for image `ref` (an id, prefix or ref name). The store behind `images`
 * must read synchronously (`BlobStoreSyncRead`: the file and memory stores do); any other store
 * is refused with `UnsupportedStoreError` (copy the image to a file store first).
 */
export async function lazyPageReader(images: ImageStore, ref: string): Promise<LazyPageReader> {
  const backend = images.blobStore;
  if (!supportsSyncRead(backend))
    throw new UnsupportedStoreError(
      backend.name,
      "cannot read synchronously, which a lazy restore needs (copy the image to a file store first)",
    );
  if (!(images instanceof ImageStoreCore))
    throw new InvalidArgumentError("images", "a lazy restore needs an image store made by createImageStore");
  const id = await images.resolve(ref);
  const manifest = await images.loadManifest(id);
  return new PageReader(id, manifest, backend, images.blobs, images.limits);
}

class PageReader implements LazyPageReader {
  private readonly objects = new Map<number, VmObjectImage>();
  /** Content hash → pack and entry, for every pack header read so far. */
  private readonly index = new Map<Sha256Hex, Located>();
  /** Which of `manifest.packs` are in `index`, and the raw heads read but not indexed yet. */
  private readonly indexed: boolean[];
  private readonly heads: (Uint8Array | undefined)[];

  constructor(
    readonly id: ImageId,
    readonly manifest: Manifest,
    private readonly sync: BlobStore & BlobStoreSyncRead,
    private readonly blobs: BlobStore,
    private readonly limits: CodecLimits,
  ) {
    for (const o of manifest.objects) this.objects.set(o.id, o);
    this.indexed = manifest.packs.map(() => false);
    this.heads = manifest.packs.map(() => undefined);
  }

  /** The page's hash and where it is, or `undefined` for a zero page. */
  private locate(objectId: number, pageIndex: number): { hash: Sha256Hex; at: Located } | undefined {
    const object = this.objects.get(objectId);
    if (object === undefined) throw new NotFoundError(`object ${objectId} of image ${this.id.slice(0, 12)}`);
    if (!Number.isInteger(pageIndex) || pageIndex < 0 || pageIndex >= object.size)
      throw new InvalidArgumentError(
        `page ${pageIndex}`,
        `outside object ${objectId} (${object.size} pages)`,
      );
    const position = positionOf(object.pages.indexes, pageIndex);
    if (position < 0) return undefined;
    const hash = Buffer.from(object.pages.hashes.subarray(position * 32, position * 32 + 32)).toString("hex");
    const at =
      this.index.get(hash) ?? this.hinted(hash, object.pages.inPack?.[position]) ?? this.search(hash);
    if (at === undefined)
      throw new NotFoundError(`page ${hash.slice(0, 12)}`, `in no pack of image ${this.id.slice(0, 12)}`);
    return { hash, at };
  }

  /** Look for `hash` in pack `k` of the manifest, as the page map's `inPack` hint says. */
  private hinted(hash: Sha256Hex, k: number | undefined): Located | undefined {
    if (k === undefined || k >= this.manifest.packs.length || this.indexed[k] === true) return undefined;
    this.indexPack(k, this.rawHead(k));
    return this.index.get(hash);
  }

  /**
   * Find the pack whose header holds `hash`: each header not indexed yet is read once (its raw
   * bytes kept) and searched for the hash's 32 bytes; only a pack that has them is decoded,
   * checked and indexed. So a lookup costs a byte search over the headers, not their decoding.
   */
  private search(hash: Sha256Hex): Located | undefined {
    const needle = Buffer.from(hash, "hex");
    for (let k = 0; k < this.manifest.packs.length; k++) {
      if (this.indexed[k] === true) continue;
      const head = this.rawHead(k);
      if (Buffer.from(head.buffer, head.byteOffset, head.byteLength).indexOf(needle) < 0) continue;
      this.indexPack(k, head);
      const at = this.index.get(hash);
      if (at !== undefined) return at;
    }
    return undefined;
  }

  /** Pack `k`'s prefix and header, read synchronously once (kept until the pack is indexed). */
  private rawHead(k: number): Uint8Array {
    const cached = this.heads[k];
    if (cached !== undefined) return cached;
    const key = packKey(this.manifest.packs[k] as Sha256Hex);
    const probe = this.sync.getRangeSync(key, 0, HEADER_PROBE_BYTES);
    if (probe === undefined) throw new NotFoundError(key);
    const length = packHeaderLength(probe, key, this.limits);
    let head = probe.subarray(0, PACK_PREFIX_BYTES + length);
    if (head.length < PACK_PREFIX_BYTES + length) {
      const whole = this.sync.getRangeSync(key, 0, PACK_PREFIX_BYTES + length);
      if (whole === undefined || whole.length < PACK_PREFIX_BYTES + length)
        throw new IntegrityError(key, "truncated pack header");
      head = whole;
    }
    this.heads[k] = head;
    return head;
  }

  /** Decode and check pack `k`'s header (`head`: prefix and header), and index its entries. */
  private indexPack(k: number, head: Uint8Array): void {
    const pack = this.manifest.packs[k] as Sha256Hex;
    const key = packKey(pack);
    const decoded = decodePackHeader(head.subarray(PACK_PREFIX_BYTES), key, this.limits);
    // As ImageStoreCore.packHeader: a 1.1+ pack is named by the hash of its head.
    if (decoded.minor >= 1 && packIdOfHead(head) !== pack)
      throw new IntegrityError(key, "content does not match its hash");
    for (const entry of decoded.entries)
      if (!this.index.has(entry.hash)) this.index.set(entry.hash, { pack, entry });
    this.indexed[k] = true;
    this.heads[k] = undefined;
  }

  readPageSync(objectId: number, pageIndex: number): Uint8Array {
    const where = this.locate(objectId, pageIndex);
    if (where === undefined) return new Uint8Array(PAGE_SIZE);
    const key = packKey(where.at.pack);
    const bytes = this.sync.getRangeSync(key, where.at.entry.offset, where.at.entry.length);
    if (bytes === undefined) throw new NotFoundError(key);
    return checked(bytes, where.hash, key);
  }

  async readPagesAsync(pages: readonly LazyPageRef[]): Promise<Uint8Array[]> {
    const out = new Array<Uint8Array>(pages.length);
    const byPack = new Map<Sha256Hex, { slot: number; hash: Sha256Hex; entry: PackEntry }[]>();
    pages.forEach((p, slot) => {
      const where = this.locate(p.objectId, p.pageIndex);
      if (where === undefined) {
        out[slot] = new Uint8Array(PAGE_SIZE);
        return;
      }
      let group = byPack.get(where.at.pack);
      if (group === undefined) {
        group = [];
        byPack.set(where.at.pack, group);
      }
      group.push({ slot, hash: where.hash, entry: where.at.entry });
    });
    await Promise.all(
      [...byPack].map(async ([pack, group]) => {
        const key = packKey(pack);
        let from = Number.POSITIVE_INFINITY;
        let to = 0;
        for (const g of group) {
          from = Math.min(from, g.entry.offset);
          to = Math.max(to, g.entry.offset + g.entry.length);
        }
        const span = await this.blobs.getRange(key, from, to - from);
        if (span === undefined) throw new NotFoundError(key);
        // The first page of a content gets a view into the span; a repeat gets its own copy.
        const seen = new Set<Sha256Hex>();
        for (const g of group) {
          const view = span.subarray(g.entry.offset - from, g.entry.offset - from + g.entry.length);
          out[g.slot] = checked(seen.has(g.hash) ? view.slice() : view, g.hash, key);
          seen.add(g.hash);
        }
      }),
    );
    return out;
  }
}

function checked(bytes: Uint8Array, hash: Sha256Hex, key: string): Uint8Array {
  if (bytes.length !== PAGE_SIZE || sha256Hex(bytes) !== hash)
    throw new IntegrityError(`page ${hash.slice(0, 12)} in ${key}`, "content does not match its hash");
  return bytes;
}
