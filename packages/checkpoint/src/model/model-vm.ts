/** Map entry flag bits (`MapEntryImage.flags`). Unknown bits are kept as they are. */
export const MAP_ENTRY_FLAGS = {
  PRIVATE: 1,
  SHARED: 2,
  COW: 4,
  STACK: 8,
  GROWSDOWN: 16,
  WIRED: 32,
} as const;

/** Protection bits (`prot`, `maxprot`). */
export const PROT = { READ: 1, WRITE: 2, EXEC: 4 } as const;

export interface MapEntryImage {
  /** Page-aligned first address. */
  readonly start: number;
  /** Page-aligned end address (exclusive), at most 2^32. */
  readonly end: number;
  readonly prot: number;
  readonly maxprot?: number;
  readonly flags: number;
  /** NORMAL maps object pages directly; VPAGETABLE maps through an Sv32 table in the object. */
  readonly type: "normal" | "vpagetable";
  /** The backing VM object (`VmObjectImage.id`), absent for a reservation with no object. */
  readonly objectId?: number;
  /** Offset into the object, in pages. */
  readonly offset: number;
  /** VPAGETABLE only: the master page-table address (`MADV_SETMAP`). */
  readonly masterPde?: number;
}

export interface VmspaceImage {
  /** Sorted by `start`, non-overlapping. */
  readonly entries: readonly MapEntryImage[];
  readonly brk: { readonly start: number; readonly end: number };
  readonly mmapBase: number;
}

/**
 * Page index → content hash, for the non-zero pages of an object. `indexes` is strictly
 * ascending; `hashes` holds 32 bytes per index, in the same order. Absent pages are zero.
 */
export interface PageMap {
  readonly indexes: Uint32Array;
  readonly hashes: Uint8Array;
  /**
   * Optional (format 1.3): for each entry, the position in the image's `packs` of the pack that
   * holds the page, so a reader finds a page without reading every pack header (a lazy restore's
   * first fault, a writer's parent). A hint: the page's hash is still checked.
   */
  readonly inPack?: Uint32Array;
}

export interface VmObjectImage {
  /** Unique within the image. */
  readonly id: number;
  readonly kind: "anon" | "file" | "shared";
  /** Size in pages. */
  readonly size: number;
  /** File-backed objects: the file's path and the SHA-256 of its content. */
  readonly path?: string;
  readonly sha256?: string;
  readonly pages: PageMap;
}
