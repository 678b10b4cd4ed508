import type { ProcessImage } from "./model-process.ts";
import type { BlobRef, CborMap, ImageId, Sha256Hex } from "./model-values.ts";
import type { VmObjectImage } from "./model-vm.ts";

export const IMAGE_FORMAT = "vkc-image";
export const IMAGE_FORMAT_MAJOR = 1;
export const IMAGE_FORMAT_MINOR = 3;

export interface FormatVersion {
  readonly major: number;
  readonly minor: number;
}

export interface CreatedInfo {
  /** ISO 8601 UTC time the image was written. */
  readonly time: string;
  /** Tool and version, e.g. `vkc 0.1.0`. */
  readonly tool: string;
  readonly host?: string;
  readonly note?: string;
}

export interface ExecutableRef {
  readonly path: string;
  readonly sha256: Sha256Hex;
  readonly size: number;
  /** The executable's bytes, when embedded in the store. */
  readonly embedded?: BlobRef;
}

export interface ClockImage {
  /** Retired instructions (virtual time), up to 2^53-1. */
  readonly instructions: number;
  /** Virtual nanoseconds, up to 2^53-1. */
  readonly ns: number;
}

export interface PrngImage {
  readonly algorithm: string;
  /** The generator's state as u32 words. */
  readonly state: readonly number[];
}

/** Set on manifests read from bytes: how they were bound. Never encoded into the body. */
export interface ManifestIntegrity {
  /** SHA-256 of the canonical body bytes: the image id. */
  readonly digest: Sha256Hex;
  /** HMAC-SHA256 of the body, hex, when signed. */
  readonly signature?: string;
}

/** The whole description of an image. Page content is referenced by hash, never held. */
export interface Manifest {
  readonly format: typeof IMAGE_FORMAT;
  readonly version: FormatVersion;
  readonly created: CreatedInfo;
  readonly parent?: ImageId;
  readonly kind: "process" | "vkernel";
  readonly processes: readonly ProcessImage[];
  /** Opaque kernel-state section a vkernel fills (kind `vkernel`). */
  readonly vkernel?: CborMap;
  readonly clock: ClockImage;
  readonly prng: PrngImage;
  readonly executables: readonly ExecutableRef[];
  readonly objects: readonly VmObjectImage[];
  /** Every pack holding a page of this image (not only packs new in it). */
  readonly packs: readonly Sha256Hex[];
  readonly extensions?: CborMap;
  readonly integrity?: ManifestIntegrity;
}

/** A VM object as the kernel describes it to the writer: its pages come through the page stream. */
export interface VmObjectDraft extends Omit<VmObjectImage, "pages"> {
  /**
   * Start from the parent image's page map of the object with the same id (truncated to `size`)
   * and apply the streamed pages over it; a streamed all-zero page clears its index. Lets a
   * kernel with dirty bits stream only dirty pages.
   */
  readonly inheritFromParent?: boolean;
}

/** What a kernel hands to `writeImage`: a manifest without page maps, packs and integrity. */
export interface ManifestDraft
  extends Omit<Manifest, "format" | "version" | "objects" | "packs" | "integrity" | "created"> {
  readonly objects: readonly VmObjectDraft[];
  /** Defaults: now, `vkc`. */
  readonly created?: CreatedInfo;
}

/** One page handed to the writer. `bytes` is 4096 bytes; the writer copies what it keeps. */
export interface PageWrite {
  readonly objectId: number;
  readonly pageIndex: number;
  readonly bytes: Uint8Array;
}
