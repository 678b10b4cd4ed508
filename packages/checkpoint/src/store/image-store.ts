import { HEX64 } from "../codec/codec-fields.ts";
import { type CodecLimits, resolveLimits } from "../codec/codec-limits.ts";
import { decodeManifest, encodeManifest } from "../codec/codec-manifest.ts";
import {
  decodePackHeader,
  PACK_PREFIX_BYTES,
  type PackEntry,
  type PackHeader,
  packHeaderLength,
} from "../codec/codec-pack.ts";
import { AmbiguousRefError, IntegrityError, InvalidArgumentError, NotFoundError } from "../image-errors.ts";
import {
  IMAGE_FORMAT,
  IMAGE_FORMAT_MAJOR,
  IMAGE_FORMAT_MINOR,
  type Manifest,
  type ManifestDraft,
  type PageWrite,
} from "../model/model-manifest.ts";
import { type BlobRef, type ImageId, PAGE_SIZE, type Sha256Hex } from "../model/model-values.ts";
import type { PageMap, VmObjectImage } from "../model/model-vm.ts";
import type { BlobStore } from "./blob-store.ts";
import type {
  CopyOptions,
  CopyReport,
  GcOptions,
  GcReport,
  ImageListing,
  ImageStore,
  ImageStoreOptions,
  VerifyReport,
  WriteImageOptions,
  WriteResult,
} from "./image-store-types.ts";
import { copyImage } from "./store-copy.ts";
import { collectGarbage } from "./store-gc.ts";
import { isAllZero, sha256Hex } from "./store-hash.ts";
import { sharedHashPool } from "./store-hash-pool.ts";
import {
  assertRefName,
  blobKey,
  MANIFESTS,
  manifestKey,
  packKey,
  REFS,
  refKey,
  writeKey,
} from "./store-keys.ts";
import { KnownPages } from "./store-known-pages.ts";
import { MarkerHandle, newToken } from "./store-markers.ts";
import { checkPackOnPool, packIdOfHead } from "./store-pack-check.ts";
import { PackWriter } from "./store-pack-writer.ts";
import {
  hashTableOf,
  inPackHints,
  inParent,
  layoutFromHints,
  layoutFromIndex,
  livePacks,
  mergeLayout,
  type PageLayout,
  positionOf,
  StreamedPages,
  written,
  ZERO_PAGE,
} from "./store-page-layout.ts";
import { giveBackBuffer, takeBuffer } from "./store-pipeline-buffers.ts";
import { hashPageBatches } from "./store-pipeline-pages.ts";
import { countingStore, emptyStats, type StoreStats, statsDelta } from "./store-stats.ts";
import { verifyImages } from "./store-verify.ts";

/**
 * Packs of 4 MiB and 2/16 (1152 pages): the pack uploader costs two requests (a marker update
 * and a gc-intent listing, FORMAT.md §7) per 16 packs, so the packs are made that much larger
 * than 4 MiB and an image costs one request per 4 MiB of new data, markers included, plus a few.
 */
const DEFAULT_PACK_BYTES = 4 * 1024 * 1024 + 512 * 1024;
/** First ranged get of a pack header: usually the whole header in one request. */
const HEADER_PROBE_BYTES = 64 * 1024;
const MANIFEST_CACHE = 16;
/** Manifest envelopes are written into pooled buffers of a multiple of this size. */
const MANIFEST_BUFFER_STEP = 1 << 20;
const LAYOUT_CACHE = 4;
/** Packs `readPages` fetches ahead of the one it is handing out. */
const READ_AHEAD = 2;

export { sha256Hex };

/** Page index → hash (hex) of a page map. */
export function pageMapEntries(map: PageMap): Map<number, Sha256Hex> {
  const out = new Map<number, Sha256Hex>();
  map.indexes.forEach((index, k) => {
    out.set(index, Buffer.from(map.hashes.subarray(k * 32, k * 32 + 32)).toString("hex"));
  });
  return out;
}

/** Hash of page `index` in `map`, by binary search; undefined for a zero page. */
export function pageHashAt(map: PageMap, index: number): Sha256Hex | undefined {
  const at = positionOf(map.indexes, index);
  return at < 0 ? undefined : Buffer.from(map.hashes.subarray(at * 32, at * 32 + 32)).toString("hex");
}

/** Every blob key (other than packs) a manifest references. */
export function manifestBlobKeys(m: Pick<Manifest, "executables" | "processes">): string[] {
  const keys = new Set<string>();
  for (const x of m.executables) if (x.embedded !== undefined) keys.add(blobKey(x.embedded.sha256));
  for (const p of m.processes) {
    for (const d of p.descriptors) {
      if (d.kind === "pipe" && d.buffered !== undefined && !(d.buffered instanceof Uint8Array)) {
        keys.add(blobKey(d.buffered.sha256));
      }
    }
  }
  return [...keys];
}

/** The image store protocol on any `BlobStore`. */
export function createImageStore(blobStore: BlobStore, options: ImageStoreOptions = {}): ImageStore {
  return new ImageStoreCore(blobStore, options);
}

/** Implementation; the helpers in store-verify/gc/copy use its internals. */
export class ImageStoreCore implements ImageStore {
  readonly stats: StoreStats = emptyStats();
  /** Counted view of the backend: every request goes through it. */
  readonly blobs: BlobStore;
  readonly limits: CodecLimits;
  readonly now: () => number;
  private readonly packHeaders = new Map<Sha256Hex, PackHeader>();
  private readonly pageIndexes = new Map<ImageId, Map<Sha256Hex, { pack: Sha256Hex; entry: PackEntry }>>();
  /** Verified manifests by id (manifests are immutable), so page reads cost one request. */
  private readonly manifests = new Map<ImageId, Manifest>();
  /** Page layouts of the images this store wrote last (see `remember`). */
  private readonly layouts = new Map<ImageId, PageLayout>();
  /** Which pack holds each page content written or dedup'd against (store-known-pages.ts). */
  private readonly known = new KnownPages();

  constructor(
    readonly blobStore: BlobStore,
    readonly options: ImageStoreOptions,
  ) {
    this.blobs = countingStore(blobStore, this.stats);
    this.limits = resolveLimits(options.limits);
    this.now = options.now ?? Date.now;
  }

  // ---- manifests and refs ------------------------------------------------------------------

  /** Raw envelope bytes of an image, or undefined. */
  async manifestBytes(id: ImageId): Promise<Uint8Array | undefined> {
    return this.blobs.get(manifestKey(id));
  }

  /**
   * Decode a stored manifest, checking digest, id and (with a key) signature. Manifests are
   * immutable, so a verified one is cached; `fresh` reads and checks the stored bytes anyway
   * (for verify, which must see damage done after the cache was filled).
   */
  async loadManifest(
    id: ImageId,
    options: { verifySignature?: boolean; fresh?: boolean } = {},
  ): Promise<Manifest> {
    const verify = options.verifySignature ?? true;
    const cached = options.fresh === true ? undefined : this.manifests.get(id);
    if (cached !== undefined) return cached;
    const bytes = await this.manifestBytes(id);
    if (bytes === undefined) throw new NotFoundError(`image ${id.slice(0, 12)}`);
    const manifest = decodeManifest(bytes, {
      expectedId: id,
      limits: this.limits,
      ...(verify && this.options.signKey !== undefined ? { verifyKey: this.options.signKey } : {}),
    });
    if (verify) {
      if (this.manifests.size >= MANIFEST_CACHE) this.manifests.delete(this.manifests.keys().next().value!);
      this.manifests.set(id, manifest);
    }
    return manifest;
  }

  async readRef(name: string): Promise<ImageId | undefined> {
    const bytes = await this.blobs.get(refKey(name));
    if (bytes === undefined) return undefined;
    const id = Buffer.from(bytes).toString("utf8").trim();
    if (!HEX64.test(id)) throw new IntegrityError(refKey(name), "does not hold an image id");
    return id;
  }

  async resolve(ref: string): Promise<ImageId> {
    // `REF^` names the parent of REF, `REF^^` its grandparent (as in git).
    const up = /\^+$/.exec(ref);
    if (up !== null && up.index > 0) {
      let id = await this.resolve(ref.slice(0, up.index));
      for (let i = 0; i < up[0].length; i++) {
        const parent = (await this.loadManifest(id)).parent;
        if (parent === undefined) {
          throw new NotFoundError(`parent of image ${id.slice(0, 12)}`, "it is the first image of its chain");
        }
        id = parent;
      }
      return id;
    }
    if (HEX64.test(ref)) {
      if (this.manifests.has(ref) || (await this.blobs.has(manifestKey(ref)))) return ref;
      throw new NotFoundError(`image ${ref.slice(0, 12)}`);
    }
    if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(ref)) {
      const id = await this.readRef(ref);
      if (id !== undefined) return id;
    }
    if (/^[0-9a-f]{4,63}$/.test(ref)) {
      const matches: ImageId[] = [];
      for await (const key of this.blobs.list(`${MANIFESTS}${ref}`)) {
        matches.push(key.slice(MANIFESTS.length));
        if (matches.length > 16) break;
      }
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new AmbiguousRefError(ref, matches);
    }
    throw new NotFoundError(
      `image ${JSON.stringify(ref.slice(0, 70))}`,
      "no image, ref or id prefix by that name",
    );
  }

  async readManifest(ref: string): Promise<Manifest> {
    return this.loadManifest(await this.resolve(ref));
  }

  async refs(): Promise<{ name: string; id: ImageId }[]> {
    const out: { name: string; id: ImageId }[] = [];
    for await (const key of this.blobs.list(REFS)) {
      const name = key.slice(REFS.length);
      try {
        const id = await this.readRef(name);
        if (id !== undefined) out.push({ name, id });
      } catch {
        // a damaged ref is reported by verify, not listed
      }
    }
    return out;
  }

  async tag(name: string, ref: string): Promise<ImageId> {
    assertRefName(name);
    const id = await this.resolve(ref);
    await this.blobs.put(refKey(name), new TextEncoder().encode(`${id}\n`));
    return id;
  }

  async untag(name: string): Promise<void> {
    assertRefName(name);
    await this.blobs.delete(refKey(name));
  }

  async remove(ref: string): Promise<{ id: ImageId; refs: string[] }> {
    const id = await this.resolve(ref);
    const removed: string[] = [];
    for (const r of await this.refs()) {
      if (r.id === id) {
        await this.blobs.delete(refKey(r.name));
        removed.push(r.name);
      }
    }
    await this.blobs.delete(manifestKey(id));
    this.pageIndexes.delete(id);
    this.manifests.delete(id);
    this.layouts.delete(id);
    return { id, refs: removed };
  }

  async list(): Promise<ImageListing[]> {
    const refsById = new Map<ImageId, string[]>();
    for (const r of await this.refs()) refsById.set(r.id, [...(refsById.get(r.id) ?? []), r.name]);
    const out: ImageListing[] = [];
    for await (const key of this.blobs.list(MANIFESTS)) {
      const id = key.slice(MANIFESTS.length);
      const refs = refsById.get(id) ?? [];
      const bytes = await this.manifestBytes(id);
      if (bytes === undefined) continue;
      try {
        const m = decodeManifest(bytes, { expectedId: id, limits: this.limits });
        const pages = m.objects.reduce((n, o) => n + o.pages.indexes.length, 0);
        out.push({
          id,
          ...(m.parent !== undefined ? { parent: m.parent } : {}),
          time: m.created.time,
          kind: m.kind,
          pages,
          bytes: pages * PAGE_SIZE,
          manifestBytes: bytes.length,
          refs,
        });
      } catch (error) {
        out.push({
          id,
          pages: 0,
          bytes: 0,
          manifestBytes: bytes.length,
          refs,
          damaged: String((error as Error).message),
        });
      }
    }
    return out.sort((a, b) => (a.time ?? "").localeCompare(b.time ?? "") || a.id.localeCompare(b.id));
  }

  // ---- blobs and pages ---------------------------------------------------------------------

  async putBlob(bytes: Uint8Array): Promise<BlobRef> {
    const sha256 = sha256Hex(bytes);
    await this.blobs.putIfAbsent(blobKey(sha256), bytes);
    return { sha256, size: bytes.length };
  }

  async readBlob(ref: BlobRef): Promise<Uint8Array> {
    const key = blobKey(ref.sha256);
    const bytes = await this.blobs.get(key);
    if (bytes === undefined) throw new NotFoundError(key);
    if (sha256Hex(bytes) !== ref.sha256) throw new IntegrityError(key, "content does not match its hash");
    return bytes;
  }

  /** A pack's header, via a ranged get of its start (cached; packs are immutable). */
  async packHeader(pack: Sha256Hex): Promise<PackHeader> {
    const cached = this.packHeaders.get(pack);
    if (cached !== undefined) return cached;
    const key = packKey(pack);
    const probe = await this.blobs.getRange(key, 0, HEADER_PROBE_BYTES);
    if (probe === undefined) throw new NotFoundError(key);
    const length = packHeaderLength(probe, key, this.limits);
    let header = probe.subarray(PACK_PREFIX_BYTES, PACK_PREFIX_BYTES + length);
    if (header.length < length) {
      const rest = await this.blobs.getRange(key, PACK_PREFIX_BYTES, length);
      if (rest === undefined || rest.length < length) throw new IntegrityError(key, "truncated pack header");
      header = rest;
    }
    const decoded = decodePackHeader(header, key, this.limits);
    // A 1.1+ pack is keyed by its head: check it here (a few KiB). A 1.0 pack's header cannot
    // be checked without the whole pack; each page read is checked against its hash anyway.
    if (decoded.minor >= 1) {
      const head = new Uint8Array(PACK_PREFIX_BYTES + length);
      head.set(probe.subarray(0, PACK_PREFIX_BYTES), 0);
      head.set(header, PACK_PREFIX_BYTES);
      if (packIdOfHead(head) !== pack) throw new IntegrityError(key, "content does not match its hash");
    }
    this.packHeaders.set(pack, decoded);
    return decoded;
  }

  /** Content hash → (pack, entry) for every pack an image lists. */
  async pageIndex(
    id: ImageId,
    manifest: Manifest,
  ): Promise<Map<Sha256Hex, { pack: Sha256Hex; entry: PackEntry }>> {
    const cached = this.pageIndexes.get(id);
    if (cached !== undefined) return cached;
    const index = new Map<Sha256Hex, { pack: Sha256Hex; entry: PackEntry }>();
    const headers = await mapLimit(manifest.packs, 8, (pack) => this.packHeader(pack));
    manifest.packs.forEach((pack, i) => {
      for (const entry of headers[i]!.entries)
        if (!index.has(entry.hash)) index.set(entry.hash, { pack, entry });
    });
    this.pageIndexes.set(id, index);
    return index;
  }

  async readPageByHash(ref: string, hash: Sha256Hex): Promise<Uint8Array> {
    const id = await this.resolve(ref);
    const manifest = await this.loadManifest(id);
    return this.fetchPage(id, manifest, hash);
  }

  async fetchPage(id: ImageId, manifest: Manifest, hash: Sha256Hex): Promise<Uint8Array> {
    const where = (await this.pageIndex(id, manifest)).get(hash);
    if (where === undefined)
      throw new NotFoundError(`page ${hash.slice(0, 12)}`, `in no pack of image ${id.slice(0, 12)}`);
    const key = packKey(where.pack);
    const bytes = await this.blobs.getRange(key, where.entry.offset, where.entry.length);
    if (bytes === undefined) throw new NotFoundError(key);
    if (sha256Hex(bytes) !== hash) {
      throw new IntegrityError(`page ${hash.slice(0, 12)} in ${key}`, "content does not match its hash");
    }
    return bytes;
  }

  async readPage(ref: string, objectId: number, pageIndex: number): Promise<Uint8Array> {
    const id = await this.resolve(ref);
    const manifest = await this.loadManifest(id);
    const object = manifest.objects.find((o) => o.id === objectId);
    if (object === undefined) throw new NotFoundError(`object ${objectId} of image ${id.slice(0, 12)}`);
    if (!Number.isInteger(pageIndex) || pageIndex < 0 || pageIndex >= object.size) {
      throw new InvalidArgumentError(
        `page ${pageIndex}`,
        `outside object ${objectId} (${object.size} pages)`,
      );
    }
    const hash = pageHashAt(object.pages, pageIndex);
    if (hash === undefined) return new Uint8Array(PAGE_SIZE);
    return this.fetchPage(id, manifest, hash);
  }

  async *readPages(ref: string): AsyncIterable<{ objectId: number; pageIndex: number; bytes: Uint8Array }> {
    const id = await this.resolve(ref);
    const manifest = await this.loadManifest(id);
    const wanted = new Map<Sha256Hex, { objectId: number; pageIndex: number }[]>();
    for (const o of manifest.objects) {
      for (const [pageIndex, hash] of pageMapEntries(o.pages)) {
        const list = wanted.get(hash);
        if (list === undefined) wanted.set(hash, [{ objectId: o.id, pageIndex }]);
        else list.push({ objectId: o.id, pageIndex });
      }
    }
    // Read ahead: the next packs are fetched and checked (hashing on the hash pool) while this
    // one is handed out, so neither the backend nor the caller waits. At most 1 + READ_AHEAD
    // packs are held.
    const pool = sharedHashPool();
    type Fetched = { bytes: Uint8Array; header: PackHeader } | undefined;
    const fetching: Promise<Fetched>[] = [];
    const fetchNext = () => {
      const pack = manifest.packs[fetching.length];
      if (pack === undefined) return;
      const key = packKey(pack);
      const got = this.blobs
        .get(key)
        .then((bytes) =>
          bytes === undefined ? undefined : checkPackOnPool(pack, bytes, key, this.limits, pool),
        );
      got.catch(() => undefined); // awaited below; this only silences an abandoned read
      fetching.push(got);
    };
    for (let i = 0; i < READ_AHEAD; i++) fetchNext();
    for (const [i, pack] of manifest.packs.entries()) {
      const fetched = await fetching[i];
      fetching[i] = Promise.resolve(undefined); // drop the reference: the pack is ours now
      fetchNext();
      if (fetched === undefined) throw new NotFoundError(packKey(pack));
      const { bytes, header } = fetched;
      for (const entry of header.entries) {
        const targets = wanted.get(entry.hash);
        if (targets === undefined) continue;
        wanted.delete(entry.hash);
        // Every payload was checked with its pack (store-pack-check.ts). The first target gets a
        // view into the pack (read into fresh memory, never reused); any other page with the
        // same content gets its own copy, so no two pages share bytes.
        const page = bytes.subarray(entry.offset, entry.offset + entry.length);
        for (const [k, t] of targets.entries()) {
          yield { objectId: t.objectId, pageIndex: t.pageIndex, bytes: k === 0 ? page : page.slice() };
        }
      }
    }
    const [missing] = wanted.keys();
    if (missing !== undefined) {
      throw new NotFoundError(`page ${missing.slice(0, 12)}`, `in no pack of image ${id.slice(0, 12)}`);
    }
  }

  // ---- writing -----------------------------------------------------------------------------

  async writeImage(
    draft: ManifestDraft,
    pages: AsyncIterable<PageWrite> | Iterable<PageWrite>,
    options: WriteImageOptions = {},
  ): Promise<WriteResult> {
    const before = { ...this.stats };
    const refs = options.refs ?? ["latest"];
    refs.forEach(assertRefName);

    let parent: { manifest: Pick<Manifest, "objects" | "packs">; layout: PageLayout } | undefined;
    const parentId = draft.parent === undefined ? undefined : await this.resolve(draft.parent);
    if (parentId !== undefined) {
      const manifest = await this.loadManifest(parentId);
      const layout =
        this.layouts.get(parentId) ??
        layoutFromHints(manifest) ??
        layoutFromIndex(manifest, await this.pageIndex(parentId, manifest));
      parent = { manifest, layout };
    } else if (options.base !== undefined) {
      parent = options.base; // pre-copied pages: a parent in all but name (store-stage.ts)
    }
    const objects = new Map(draft.objects.map((o) => [o.id, o]));
    if (objects.size !== draft.objects.length)
      throw new InvalidArgumentError("draft.objects", "duplicate object id");

    const marker = new MarkerHandle(this.blobs, writeKey(newToken(this.now())), this.now);
    // The marker is first stored when it has something to protect: here, or with the first pack.
    const reused = [...(parent?.manifest.packs ?? []).map(packKey), ...manifestBlobKeys(draft)];
    // Reused keys a gc run was deleting as the marker went up may be gone (store-gc.ts, rule 4).
    const doubtful = reused.length > 0 ? await marker.add(reused) : [];
    let started: PackWriter | undefined;
    try {
      for (const key of doubtful) {
        if (!(await this.blobs.has(key)))
          throw new NotFoundError(key, "deleted by gc while this image was written");
      }
      if (parentId !== undefined && !(await this.blobs.has(manifestKey(parentId)))) {
        throw new NotFoundError(
          `parent image ${parentId.slice(0, 12)}`,
          "removed while this image was written",
        );
      }
      const pool = sharedHashPool();
      const packTarget = this.options.packTargetBytes ?? DEFAULT_PACK_BYTES;
      // A full image usually streams most of its objects' pages: size the dedup table for them
      // (capped) rather than growing it; an incremental one streams few. (The table goes on as
      // the chain's, store-known-pages.ts: it fills to 3/4 before growing, so a chain's first
      // incrementals fit in it as it is.)
      const expectedBlobs =
        parent === undefined
          ? Math.min(
              1 << 18,
              draft.objects.reduce((n, o) => n + o.size, 0),
            )
          : 0;
      const writer = new PackWriter(this.blobs, marker, packTarget, { expectedBlobs });
      started = writer;
      // Dedup against the parent: through the table of known pages, which already holds the
      // pages of the image this store wrote last (so an incremental costs O(its new pages)).
      let inParentPack: ((hashes: Uint8Array, at: number) => number) | undefined;
      if (parentId !== undefined && parent !== undefined) {
        inParentPack = this.known.lookupIn(parentId, parent.manifest, parent.layout);
      } else if (options.base !== undefined) {
        const { lookup } = options.base;
        if (lookup !== undefined) {
          inParentPack = lookup;
        } else {
          const staged = hashTableOf(options.base.manifest, options.base.layout);
          inParentPack = (hashes, at) => staged.get(hashes, at);
        }
      }
      const streamed = new Map<number, StreamedPages>();
      /** Position in its object's `StreamedPages` of each page sent to hashing, in order. */
      const positions: number[] = [];
      /** The `StreamedPages` of each page sent to hashing, beside `positions`. */
      const owners: StreamedPages[] = [];
      let nextPosition = 0;
      let pagesIn = 0;
      let pagesWritten = 0;
      let pagesDeduped = 0;
      let zeroPages = 0;

      // Stage 1 (`accept`): check each page and drop zero pages. Stage 2, on the hash pool:
      // digests, a batch at a time, in order. Stage 3 (the loop): dedup and packing, while the
      // pack writer puts full packs in the background. The stages run at the same time.
      const accept = (page: PageWrite): Uint8Array | undefined => {
        const object = objects.get(page.objectId);
        const what = `page ${page.pageIndex} of object ${page.objectId}`;
        if (object === undefined) throw new InvalidArgumentError(what, "object not in the draft");
        if (!Number.isInteger(page.pageIndex) || page.pageIndex < 0 || page.pageIndex >= object.size) {
          throw new InvalidArgumentError(what, `outside the object's ${object.size} pages`);
        }
        if (page.bytes.length !== PAGE_SIZE) {
          throw new InvalidArgumentError(what, `expected ${PAGE_SIZE} bytes, got ${page.bytes.length}`);
        }
        let mine = streamed.get(page.objectId);
        if (mine === undefined) {
          mine = new StreamedPages();
          streamed.set(page.objectId, mine);
        }
        const position = mine.count;
        if (isAllZero(page.bytes)) {
          mine.add(page.pageIndex, undefined, 0, ZERO_PAGE, what);
          zeroPages++;
          return undefined;
        }
        mine.add(page.pageIndex, undefined, 0, ZERO_PAGE, what); // placed in stage 3
        positions.push(position);
        owners.push(mine);
        pagesIn++;
        return page.bytes;
      };
      // A batch is as large as a pack, so a batch of new pages becomes a pack as it is (no copy).
      const batchPages = Math.max(1, Math.floor(packTarget / PAGE_SIZE));
      for await (const batch of hashPageBatches(pages, accept, pool, { pageSize: PAGE_SIZE, batchPages })) {
        const { count, digests, pages: bytes } = batch;
        // Where each page's bytes are: the parent's packs, a blob this write claimed already,
        // or a new blob (claimed here, added below in the same order).
        const fresh: number[] = [];
        for (let i = 0; i < count; i++) {
          const slot = inParentPack?.(digests, i * 32) ?? -1;
          let where: number;
          if (slot >= 0) {
            where = inParent(slot);
          } else {
            const known = writer.ordinalOf(digests, i * 32);
            if (known >= 0) {
              where = written(known);
            } else {
              where = written(writer.claim(digests, i * 32));
              fresh.push(i);
            }
          }
          owners[nextPosition]!.place(positions[nextPosition++]!, digests, i * 32, where);
        }
        pagesWritten += fresh.length;
        pagesDeduped += count - fresh.length;
        // Drop what is placed: stage 1 runs a few batches ahead, so the queues never empty, and
        // left alone they would grow to one entry per page of the image.
        positions.splice(0, nextPosition);
        owners.splice(0, nextPosition);
        nextPosition = 0;
        if (fresh.length === count && writer.empty) {
          const full = writer.adopt(batch.take(), PAGE_SIZE, digests, count);
          if (full !== undefined) await full;
          continue;
        }
        for (const i of fresh) {
          const full = writer.add(digests, i * 32, bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
          if (full !== undefined) await full;
        }
      }
      await writer.flush();

      const { maps, layout, isNew } = mergeLayout(draft.objects, streamed, parent, writer);
      const packs = livePacks(layout);
      const hints = inPackHints(layout, packs);
      const finalObjects: VmObjectImage[] = draft.objects.map((o) => {
        const { inheritFromParent: _ignored, ...rest } = o;
        return { ...rest, pages: { ...maps.get(o.id)!, inPack: hints.get(o.id)! } };
      });

      const { objects: _drafts, created, ...restDraft } = draft;
      const manifest: Manifest = {
        ...restDraft,
        ...(parentId !== undefined ? { parent: parentId } : {}),
        format: IMAGE_FORMAT,
        version: { major: IMAGE_FORMAT_MAJOR, minor: IMAGE_FORMAT_MINOR },
        created: created ?? { time: new Date(this.now()).toISOString(), tool: "vkc" },
        objects: finalObjects,
        packs,
      };
      for (const key of manifestBlobKeys(manifest)) {
        if (!(await this.blobs.has(key)))
          throw new NotFoundError(key, "referenced by the image but not stored");
      }
      // The envelope goes into a pooled buffer (sizes rounded up so a chain of images reuses one),
      // handed back once the put is done: backends do not keep what they are given.
      let pooled: Uint8Array | undefined;
      const encoded = encodeManifest(manifest, {
        limits: this.limits,
        ...(this.options.signKey !== undefined ? { signKey: this.options.signKey } : {}),
        allocate: (size) => {
          pooled = takeBuffer(Math.ceil(size / MANIFEST_BUFFER_STEP) * MANIFEST_BUFFER_STEP);
          return pooled.subarray(0, size);
        },
      });
      try {
        await this.blobs.put(manifestKey(encoded.id), encoded.bytes); // the commit point
      } finally {
        if (pooled !== undefined) giveBackBuffer(pooled);
      }
      this.remember(encoded.id, manifest, layout);
      if (parent === undefined) this.known.started(encoded.id, writer.claimedByPack(), writer.packs);
      else this.known.written(encoded.id, parentId ?? null, manifest, layout, isNew);
      // Committed: the marker goes and the refs move, at once (neither waits for the other).
      const ref = new TextEncoder().encode(`${encoded.id}\n`);
      await Promise.all([marker.release(), ...refs.map((name) => this.blobs.put(refKey(name), ref))]);

      const delta = statsDelta(this.stats, before);
      return {
        id: encoded.id,
        manifest: { ...manifest, integrity: { digest: encoded.id } },
        stats: {
          bytesWritten: delta.bytesPut,
          pagesIn,
          pagesWritten,
          pagesDeduped,
          zeroPages,
          packsWritten: writer.packs.length,
          requests: delta.requests,
          manifestBytes: encoded.bytes.length,
        },
      };
    } catch (error) {
      // Let pack writes already started finish first, so none lands after the marker is gone.
      await started?.abandon();
      await marker.release().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Keep the manifest and page layout of an image this store just wrote, so the next image
   * (usually its child) needs neither a manifest decode nor a pack header read.
   */
  private remember(id: ImageId, manifest: Manifest, layout: PageLayout): void {
    if (this.layouts.size >= LAYOUT_CACHE) this.layouts.delete(this.layouts.keys().next().value!);
    this.layouts.set(id, layout);
    if (this.options.signKey !== undefined) return; // a signed manifest is cached when read back
    if (this.manifests.size >= MANIFEST_CACHE) this.manifests.delete(this.manifests.keys().next().value!);
    this.manifests.set(id, { ...manifest, integrity: { digest: id } });
  }

  // ---- maintenance -------------------------------------------------------------------------

  verify(ref?: string): Promise<VerifyReport> {
    return verifyImages(this, ref);
  }

  gc(options: GcOptions = {}): Promise<GcReport> {
    return collectGarbage(this, options);
  }

  copy(ref: string, target: ImageStore, options: CopyOptions = {}): Promise<CopyReport> {
    return copyImage(this, ref, target, options);
  }
}

/** `fn` over `items` with at most `limit` in flight, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}
