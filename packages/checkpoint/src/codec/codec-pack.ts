import {
  InvalidImageError,
  LimitExceededError,
  UnsupportedFormatError,
  UnsupportedVersionError,
} from "../image-errors.ts";
import type { Sha256Hex } from "../model/model-values.ts";
import { decodeChecked, encodeCanonical } from "./codec-canonical.ts";
import { asMap, bytes, list, req, text, uint } from "./codec-fields.ts";
import type { CodecLimits } from "./codec-limits.ts";

/**
 * A pack holds many small blobs (pages) so a store sees few large objects:
 *
 *   "VKCP" | u32 big-endian H | H bytes: CBOR header | payloads, concatenated
 *
 * The header is `{entries: [[hash bstr(32), offset uint, length uint], …], format: "vkc-pack",
 * version: {major: 1, minor: 1}}`; offsets count from the first payload byte, entries are in
 * payload order and contiguous. A pack of version 1.1 is stored under
 * `packs/<hex SHA-256 of its prefix and header>`: the header holds every payload's hash, so that
 * one hash commits to the whole pack and a writer hashes each page once. Version 1.0 packs
 * (written before) are stored under the SHA-256 of all their bytes; readers accept both.
 */
export const PACK_MAGIC = new Uint8Array([0x56, 0x4b, 0x43, 0x50]); // "VKCP"
export const PACK_FORMAT = "vkc-pack";
export const PACK_MAJOR = 1;
/** Minor version written: 1 = the pack key is the hash of prefix + header (see above). */
export const PACK_MINOR = 1;
export const PACK_PREFIX_BYTES = 8;

export interface PackEntry {
  readonly hash: Sha256Hex;
  /** Offset of the payload from the start of the pack (already including prefix and header). */
  readonly offset: number;
  readonly length: number;
}

export interface PackHeader {
  /** Offset of the first payload byte in the pack. */
  readonly payloadStart: number;
  readonly entries: readonly PackEntry[];
  /** Total pack size implied by the header. */
  readonly size: number;
  /** The header's minor version: 0 keys the pack by all its bytes, 1 and later by its head. */
  readonly minor: number;
}

/** The prefix + header bytes for payloads of the given hashes and lengths. */
export function encodePackHead(items: readonly { hash: Uint8Array; length: number }[]): Uint8Array {
  let offset = 0;
  const entries = items.map((item) => {
    const entry = [item.hash, offset, item.length];
    offset += item.length;
    return entry;
  });
  const header = encodeCanonical(
    { format: PACK_FORMAT, version: { major: PACK_MAJOR, minor: PACK_MINOR }, entries },
    "pack",
  );
  const head = new Uint8Array(PACK_PREFIX_BYTES + header.length);
  head.set(PACK_MAGIC, 0);
  new DataView(head.buffer).setUint32(4, header.length, false);
  head.set(header, PACK_PREFIX_BYTES);
  return head;
}

/** Header length from the 8-byte prefix, checked against the limit. */
export function packHeaderLength(prefix: Uint8Array, what: string, limits: CodecLimits): number {
  if (prefix.length < PACK_PREFIX_BYTES)
    throw new InvalidImageError(what, "truncated before the pack header");
  for (let i = 0; i < 4; i++) {
    if (prefix[i] !== PACK_MAGIC[i]) throw new InvalidImageError(what, "not a pack (bad magic)");
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(4, false);
  if (length > limits.maxPackHeaderBytes) {
    throw new LimitExceededError(what, `pack header of ${length} bytes (limit ${limits.maxPackHeaderBytes})`);
  }
  return length;
}

/** Decode the header bytes (after the prefix) of a pack. `packSize`, when known, is checked too. */
export function decodePackHeader(
  header: Uint8Array,
  what: string,
  limits: CodecLimits,
  packSize?: number,
): PackHeader {
  const m = asMap(decodeChecked(header, what, limits), what);
  const format = req(m, "format", what, text);
  if (format !== PACK_FORMAT) throw new UnsupportedFormatError(what, format, PACK_FORMAT);
  const version = req(m, "version", what, (v, p) => {
    const vm = asMap(v, p);
    return { major: req(vm, "major", p, uint), minor: req(vm, "minor", p, uint) };
  });
  if (version.major !== PACK_MAJOR)
    throw new UnsupportedVersionError(what, version.major, version.minor, PACK_MAJOR);
  const payloadStart = PACK_PREFIX_BYTES + header.length;
  let expected = 0;
  const seen = new Set<string>();
  const entries = req(m, "entries", what, (v, p) =>
    list(v, p, limits.maxPackEntries, (e, ep) => {
      if (!Array.isArray(e) || e.length !== 3)
        throw new InvalidImageError(ep, "expected [hash, offset, length]");
      const hash = Buffer.from(bytes(e[0], `${ep}[0]`, 32)).toString("hex");
      const offset = uint(e[1], `${ep}[1]`, Number.MAX_SAFE_INTEGER);
      const length = uint(e[2], `${ep}[2]`, Number.MAX_SAFE_INTEGER);
      if (offset !== expected)
        throw new InvalidImageError(`${ep}[1]`, `offset ${offset}, expected ${expected}`);
      if (seen.has(hash)) throw new InvalidImageError(`${ep}[0]`, `duplicate hash ${hash.slice(0, 12)}`);
      seen.add(hash);
      expected += length;
      return { hash, offset: payloadStart + offset, length };
    }),
  );
  const size = payloadStart + expected;
  if (packSize !== undefined && size !== packSize) {
    throw new InvalidImageError(what, `header describes ${size} bytes but the pack has ${packSize}`);
  }
  return { payloadStart, entries, size, minor: version.minor };
}
