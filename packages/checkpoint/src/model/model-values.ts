/**
 * Plain value types shared by the image model. Everything in an image is plain data: numbers
 * are integers (u32 unless a field says otherwise), bytes are `Uint8Array`, hashes are
 * lowercase hex strings in the model and 32-byte CBOR byte strings on the wire.
 */

/** A SHA-256 digest as 64 lowercase hex characters. */
export type Sha256Hex = string;

/** An image id: the hex SHA-256 of the image's canonical manifest bytes. */
export type ImageId = Sha256Hex;

/** A value any CBOR decoder reads back unchanged: the content of opaque sections. */
export type CborValue = null | boolean | number | string | Uint8Array | readonly CborValue[] | CborMap;

/** A CBOR map with text keys (opaque kernel state, extensions, native thread state). */
export interface CborMap {
  readonly [key: string]: CborValue;
}

/** A standalone blob in the store, addressed by the SHA-256 of its bytes (`blobs/<sha256>`). */
export interface BlobRef {
  readonly sha256: Sha256Hex;
  /** Size in bytes. */
  readonly size: number;
}

/** A 64-signal set as two u32 words: bit n of word 0 is signal n+1, bit n of word 1 is signal n+33. */
export type SigSet = readonly [number, number];

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
