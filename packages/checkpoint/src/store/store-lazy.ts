import type { PackEntry } from "../codec/codec-pack.ts";
import { IntegrityError, InvalidArgumentError, NotFoundError, UnsupportedStoreError } from "../image-errors.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { type ImageId, PAGE_SIZE, type Sha256Hex } from "../model/model-values.ts";
import type { VmObjectImage } from "../model/model-vm.ts";
import type { BlobStore } from "./blob-store.ts";
import { type BlobStoreSyncRead, supportsSyncRead } from "./blob-store-sync.ts";
import { ImageStoreCore, pageHashAt } from "./image-store.ts";
import type { ImageStore } from "./image-store-types.ts";
import { sha256Hex } from "./store-hash.ts";
import { packKey } from "./store-keys.ts";

/** One page of one VM object of an image. */
export interface LazyPageRef {
  readonly objectId: number;
  readonly pageIndex: number;
}

/**
 * Reads single pages of one image on demand, for a lazy restore: page → content hash from the
 * object's page map (the manifest's maps are complete, parents' pages included) → pack and
 * offset from the packs' headers (read once, when the reader is made) → one ranged read, checked
 * against the hash. Never returns bytes that do not match the manifest.
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
  const index = await images.pageIndex(id, manifest);
  return new PageReader(id, manifest, index, backend, images.blobs);
}

class PageReader implements LazyPageReader {
  private readonly objects = new Map<number, VmObjectImage>();

  constructor(
    readonly id: ImageId,
    readonly manifest: Manifest,
    private readonly index: ReadonlyMap<Sha256Hex, Located>,
    private readonly sync: BlobStore & BlobStoreSyncRead,
    private readonly blobs: BlobStore,
  ) {
    for (const o of manifest.objects) this.objects.set(o.id, o);
  }

  /** The page's hash and where it is, or `undefined` for a zero page. */
  private locate(objectId: number, pageIndex: number): { hash: Sha256Hex; at: Located } | undefined {
    const object = this.objects.get(objectId);
    if (object === undefined) throw new NotFoundError(`object ${objectId} of image ${this.id.slice(0, 12)}`);
    if (!Number.isInteger(pageIndex) || pageIndex < 0 || pageIndex >= object.size)
      throw new InvalidArgumentError(`page ${pageIndex}`, `outside object ${objectId} (${object.size} pages)`);
    const hash = pageHashAt(object.pages, pageIndex);
    if (hash === undefined) return undefined;
    const at = this.index.get(hash);
    if (at === undefined)
      throw new NotFoundError(`page ${hash.slice(0, 12)}`, `in no pack of image ${this.id.slice(0, 12)}`);
    return { hash, at };
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
      if (group === undefined) byPack.set(where.at.pack, (group = []));
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
