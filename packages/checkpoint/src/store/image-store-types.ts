import type { CodecLimits } from "../codec/codec-limits.ts";
import type { Manifest, ManifestDraft, PageWrite } from "../model/model-manifest.ts";
import type { BlobRef, ImageId, Sha256Hex } from "../model/model-values.ts";
import type { BlobStore } from "./blob-store.ts";
import type { StagedBase } from "./store-stage.ts";
import type { StoreStats } from "./store-stats.ts";

export interface ImageStoreOptions {
  /** HMAC-SHA256 key: manifests written are signed; manifests read must carry a matching signature. */
  readonly signKey?: Uint8Array | string;
  /** Target pack size in bytes (default 4.5 MiB: see image-store.ts). */
  readonly packTargetBytes?: number;
  readonly limits?: Partial<CodecLimits>;
  /** Clock for markers and gc (epoch ms); default `Date.now`. */
  readonly now?: () => number;
}

export interface WriteImageOptions {
  /** Refs to point at the new image; default `["latest"]`. */
  readonly refs?: readonly string[];
  /**
   * Pre-copied pages (`PageStage.base()`): used like a parent for dedup and for the objects the
   * draft marks `inheritFromParent`, but not recorded as a parent (a draft with a parent ignores it).
   */
  readonly base?: StagedBase;
}

export interface WriteStats {
  /** Bytes put into the backend (packs, marker updates, manifest, refs). */
  readonly bytesWritten: number;
  /** Non-zero pages streamed in. */
  readonly pagesIn: number;
  /** Pages whose content was written in a new pack. */
  readonly pagesWritten: number;
  /** Pages whose content was already reachable through the parent or earlier in this image. */
  readonly pagesDeduped: number;
  readonly zeroPages: number;
  readonly packsWritten: number;
  /** Backend requests made by the write. */
  readonly requests: number;
  readonly manifestBytes: number;
}

export interface WriteResult {
  readonly id: ImageId;
  readonly manifest: Manifest;
  readonly stats: WriteStats;
}

export interface ImageListing {
  readonly id: ImageId;
  readonly parent?: ImageId;
  readonly time?: string;
  readonly kind?: "process" | "vkernel";
  /** Non-zero pages and their bytes. */
  readonly pages: number;
  readonly bytes: number;
  readonly manifestBytes: number;
  readonly refs: readonly string[];
  /** Set when the manifest cannot be read: the error message. */
  readonly damaged?: string;
}

export interface VerifyProblem {
  /** The damaged object: a blob key (`packs/…`, `manifests/…`, `refs/…`, `blobs/…`) or `page <hash>`. */
  readonly object: string;
  readonly problem: string;
  /** Images it breaks. */
  readonly images: readonly ImageId[];
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly images: number;
  readonly packs: number;
  readonly pages: number;
  readonly blobs: number;
  readonly problems: readonly VerifyProblem[];
  /** Every image with at least one problem. */
  readonly damagedImages: readonly ImageId[];
}

export interface GcOptions {
  readonly dryRun?: boolean;
  /** A key is deleted only if found unreachable by two runs at least this far apart (default 1 h). */
  readonly graceMs?: number;
  /** Write markers not updated for this long are from dead writers (default 24 h). */
  readonly markerTtlMs?: number;
}

export interface GcReport {
  readonly dryRun: boolean;
  /** Keys reachable from manifests or live markers (packs and blobs). */
  readonly reachable: number;
  /** Unreachable keys now (condemned or deleted). */
  readonly unreachable: readonly string[];
  readonly deleted: readonly string[];
  readonly bytesFreed: number;
  readonly liveMarkers: number;
  readonly expiredMarkers: readonly string[];
}

export interface CopyOptions {
  /** Also copy the ancestors present in the source (default true). */
  readonly parents?: boolean;
}

export interface CopyReport {
  readonly images: readonly ImageId[];
  readonly imagesSkipped: readonly ImageId[];
  readonly packsCopied: number;
  readonly packsSkipped: number;
  readonly blobsCopied: number;
  readonly bytesCopied: number;
}

export interface ImageStore {
  readonly blobStore: BlobStore;
  /** Counters of every backend request this image store made. */
  readonly stats: Readonly<StoreStats>;
  writeImage(
    draft: ManifestDraft,
    pages: AsyncIterable<PageWrite> | Iterable<PageWrite>,
    options?: WriteImageOptions,
  ): Promise<WriteResult>;
  /** Store a standalone blob (embedded executable, large pipe buffer); commit it within gc's grace period. */
  putBlob(bytes: Uint8Array): Promise<BlobRef>;
  readBlob(ref: BlobRef): Promise<Uint8Array>;
  /** Image id for a full id, a ref name, or a unique id prefix (4+ hex). */
  resolve(ref: string): Promise<ImageId>;
  readManifest(ref: string): Promise<Manifest>;
  /** One page (4096 bytes; zeros when the page is not in the map), fetched with one ranged get. */
  readPage(ref: string, objectId: number, pageIndex: number): Promise<Uint8Array>;
  readPageByHash(ref: string, hash: Sha256Hex): Promise<Uint8Array>;
  /** Every non-zero page of an image, pack by pack (one whole get per pack). */
  readPages(ref: string): AsyncIterable<{ objectId: number; pageIndex: number; bytes: Uint8Array }>;
  list(): Promise<ImageListing[]>;
  refs(): Promise<{ name: string; id: ImageId }[]>;
  tag(name: string, ref: string): Promise<ImageId>;
  untag(name: string): Promise<void>;
  /** Drop the manifest and the refs that point at it; gc reclaims its packs. */
  remove(ref: string): Promise<{ id: ImageId; refs: string[] }>;
  verify(ref?: string): Promise<VerifyReport>;
  gc(options?: GcOptions): Promise<GcReport>;
  copy(ref: string, target: ImageStore, options?: CopyOptions): Promise<CopyReport>;
}
