import * as crypto from "node:crypto";
import type { Sha256Hex } from "../model/model-values.ts";

/**
 * SHA-256 helpers for the store's hot paths. A page is hashed once on write and once on read,
 * so the per-call cost matters more than the per-byte cost: the one-shot `crypto.hash`
 * (Node >= 20.12) skips the `Hash` object and is about twice as fast on 4 KiB pages as
 * `createHash().update().digest()`, which remains the fallback on older Nodes. Asked for a
 * `latin1` string instead of a `Buffer`, it skips allocating a buffer per digest too: a
 * quarter faster again on 4 KiB pages (`sha256Into`).
 */
type OneShotHash = {
  (algorithm: string, data: Uint8Array, encoding: "buffer"): Buffer;
  (algorithm: string, data: Uint8Array, encoding: "latin1"): string;
};
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

/** The 32-byte SHA-256 digest of `data`. */
export function sha256Bytes(data: Uint8Array): Buffer {
  if (oneShot !== undefined) return oneShot("sha256", data, "buffer");
  return crypto.createHash("sha256").update(data).digest();
}

/** Write the 32-byte SHA-256 digest of `data` into `out[at .. at + 32)`. */
export function sha256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  if (oneShot === undefined) {
    out.set(crypto.createHash("sha256").update(data).digest(), at);
    return;
  }
  const digest = oneShot("sha256", data, "latin1"); // one char per byte, no buffer
  for (let i = 0; i < 32; i++) out[at + i] = digest.charCodeAt(i);
}

/** The lowercase hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array): Sha256Hex {
  return sha256Bytes(data).toString("hex");
}

/** The lowercase hex SHA-256 of several byte ranges taken as one value. */
export function sha256HexOfParts(parts: readonly Uint8Array[]): Sha256Hex {
  const hasher = crypto.createHash("sha256");
  for (const part of parts) hasher.update(part);
  return hasher.digest("hex");
}

/** Bytes looked at one by one before a wide view is made: most non-zero pages show it there. */
const ZERO_PROBE_BYTES = 64;

/**
 * True when every byte of `bytes` is zero. Looks at the first bytes one by one (a page that is
 * not zero almost always shows it there, and then no view is allocated for it), then compares
 * eight bytes at a time when the view is 8-byte aligned (page buffers almost always are), byte
 * by byte otherwise.
 */
export function isAllZero(bytes: Uint8Array): boolean {
  const probe = Math.min(ZERO_PROBE_BYTES, bytes.byteLength);
  for (let i = 0; i < probe; i++) if (bytes[i] !== 0) return false;
  const words = bytes.byteLength >>> 3;
  let i = 0;
  if ((bytes.byteOffset & 7) === 0 && words > 0) {
    const wide = new BigUint64Array(bytes.buffer, bytes.byteOffset, words);
    for (; i < words; i++) if (wide[i] !== 0n) return false;
    i = words << 3;
  }
  for (; i < bytes.byteLength; i++) if (bytes[i] !== 0) return false;
  return true;
}
