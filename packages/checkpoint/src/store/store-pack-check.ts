import type { CodecLimits } from "../codec/codec-limits.ts";
import {
  decodePackHeader,
  PACK_PREFIX_BYTES,
  type PackEntry,
  type PackHeader,
  packHeaderLength,
} from "../codec/codec-pack.ts";
import { IntegrityError } from "../image-errors.ts";
import type { Sha256Hex } from "../model/model-values.ts";
import { sha256Bytes, sha256Hex } from "./store-hash.ts";
import type { HashPool } from "./store-hash-pool.ts";

/**
 * Checking a whole pack against its key (FORMAT.md §5). A pack of version 1.1 or later is keyed
 * by the SHA-256 of its prefix and header, and the header holds the SHA-256 of every payload, so
 * the check is: the head's hash is the key, and every payload's hash is its entry's. A 1.0 pack
 * is keyed by the SHA-256 of all its bytes. Either way every byte a reader gets is covered by one
 * hash chain from a verified manifest, and each byte is hashed once.
 */

/** The result of checking a pack's bytes. */
export interface PackCheck {
  readonly header: PackHeader;
  /** The hash the key names matches what it covers (the head for 1.1+, all bytes for 1.0). */
  readonly keyMatches: boolean;
  /** Entries whose payload does not match their hash. */
  readonly damaged: readonly PackEntry[];
}

/** Decode the header of a whole pack; throws a typed error naming `key` for a malformed one. */
export function wholePackHeader(bytes: Uint8Array, key: string, limits: CodecLimits): PackHeader {
  const length = packHeaderLength(bytes, key, limits);
  return decodePackHeader(
    bytes.subarray(PACK_PREFIX_BYTES, PACK_PREFIX_BYTES + length),
    key,
    limits,
    bytes.length,
  );
}

/** The id (key hash) of a pack from its head bytes (prefix + header), for version 1.1 and later. */
export function packIdOfHead(head: Uint8Array): Sha256Hex {
  return sha256Hex(head);
}

function headOf(bytes: Uint8Array, header: PackHeader): Uint8Array {
  return bytes.subarray(0, header.payloadStart);
}

/**
 * Check a pack on this thread: its key, and (always for 1.1+, or with `everyPage` for 1.0) every
 * payload. Throws only for a malformed header.
 */
export function checkPack(
  id: Sha256Hex,
  bytes: Uint8Array,
  key: string,
  limits: CodecLimits,
  options: { everyPage?: boolean } = {},
): PackCheck {
  const header = wholePackHeader(bytes, key, limits);
  const keyed = header.minor >= 1;
  const keyMatches = (keyed ? sha256Hex(headOf(bytes, header)) : sha256Hex(bytes)) === id;
  const damaged: PackEntry[] = [];
  if (keyed || options.everyPage === true) {
    for (const entry of header.entries) {
      const digest = sha256Bytes(bytes.subarray(entry.offset, entry.offset + entry.length));
      if (digest.toString("hex") !== entry.hash) damaged.push(entry);
    }
  }
  return { header, keyMatches, damaged };
}

/**
 * Check a whole pack with the hashing on `pool`, throwing `IntegrityError` naming the pack (or
 * the first damaged page in it). `bytes` is given away; use the returned view.
 */
export async function checkPackOnPool(
  id: Sha256Hex,
  bytes: Uint8Array,
  key: string,
  limits: CodecLimits,
  pool: HashPool,
): Promise<{ bytes: Uint8Array; header: PackHeader }> {
  const header = wholePackHeader(bytes, key, limits);
  if (header.minor < 1) {
    const { hex, parts } = await pool.digestHex([bytes]);
    if (hex !== id) throw new IntegrityError(key, "content does not match its hash");
    return { bytes: parts[0]!, header };
  }
  if (sha256Hex(headOf(bytes, header)) !== id)
    throw new IntegrityError(key, "content does not match its hash");
  const ranges = new Float64Array(header.entries.length * 2);
  header.entries.forEach((entry, i) => {
    ranges[2 * i] = entry.offset;
    ranges[2 * i + 1] = entry.length;
  });
  const { data, digests } = await pool.rangeDigests(bytes, ranges);
  const hexes = Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength).toString("hex");
  header.entries.forEach((entry, i) => {
    if (hexes.slice(i * 64, i * 64 + 64) !== entry.hash) {
      throw new IntegrityError(
        `page ${entry.hash.slice(0, 12)} in ${key}`,
        "content does not match its hash",
      );
    }
  });
  return { bytes: data, header };
}
