import { PACK_FORMAT, PACK_MAGIC, PACK_MAJOR, PACK_MINOR, PACK_PREFIX_BYTES } from "../codec/codec-pack.ts";

/**
 * The prefix and header of a pack (FORMAT.md §5), written straight into bytes. It produces
 * exactly what `encodePackHead` produces through the general canonical encoder (a test checks
 * byte equality on random packs), in a fraction of the time: the general encoder builds and
 * sorts a value tree for every pack's thousand entries, and that showed up in profiles.
 *
 * Canonical CBOR, keys sorted by encoded bytes (shorter first):
 *   {"format": "vkc-pack", "entries": [[bstr(32) hash, uint offset, uint length], …],
 *    "version": {"major": 1, "minor": 1}}
 */
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const FORMAT_PAIR = Uint8Array.from([
  0x66,
  ...ascii("format"),
  0x60 + PACK_FORMAT.length,
  ...ascii(PACK_FORMAT),
]);
const ENTRIES_KEY = Uint8Array.from([0x67, ...ascii("entries")]);
const VERSION_PAIR = Uint8Array.from([
  0x67,
  ...ascii("version"),
  0xa2,
  0x65,
  ...ascii("major"),
  PACK_MAJOR,
  0x65,
  ...ascii("minor"),
  PACK_MINOR,
]);
/** Largest entry: array head, bstr head + 32 bytes, two uints of up to 9 bytes. */
const MAX_ENTRY_BYTES = 1 + 2 + 32 + 9 + 9;

/** Shortest CBOR head of `major` with argument `value` (an integer up to 2^53) at `at`; new offset. */
function writeHead(out: Uint8Array, view: DataView, at: number, major: number, value: number): number {
  const type = major << 5;
  if (value < 24) {
    out[at] = type | value;
    return at + 1;
  }
  if (value < 0x100) {
    out[at] = type | 24;
    out[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    out[at] = type | 25;
    view.setUint16(at + 1, value);
    return at + 3;
  }
  if (value < 0x100000000) {
    out[at] = type | 26;
    view.setUint32(at + 1, value);
    return at + 5;
  }
  out[at] = type | 27;
  view.setUint32(at + 1, Math.floor(value / 0x100000000));
  view.setUint32(at + 5, value >>> 0);
  return at + 9;
}

/**
 * Prefix + header for payloads with these hashes (`hashes[32 i .. 32 i + 32)` for payload `i`)
 * and lengths, in order.
 */
export function writePackHead(hashes: Uint8Array, lengths: readonly number[]): Uint8Array {
  const count = lengths.length;
  const capacity =
    PACK_PREFIX_BYTES +
    1 +
    FORMAT_PAIR.length +
    ENTRIES_KEY.length +
    9 +
    count * MAX_ENTRY_BYTES +
    VERSION_PAIR.length;
  const out = new Uint8Array(capacity);
  const view = new DataView(out.buffer);
  out.set(PACK_MAGIC, 0);
  let at = PACK_PREFIX_BYTES;
  out[at++] = 0xa3; // map of 3
  out.set(FORMAT_PAIR, at);
  at += FORMAT_PAIR.length;
  out.set(ENTRIES_KEY, at);
  at += ENTRIES_KEY.length;
  at = writeHead(out, view, at, 4, count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = lengths[i]!;
    out[at] = 0x83; // array of 3
    out[at + 1] = 0x58; // bstr, 1-byte length
    out[at + 2] = 32;
    for (let b = 0; b < 32; b++) out[at + 3 + b] = hashes[i * 32 + b]!;
    at = writeHead(out, view, at + 3 + 32, 0, offset);
    at = writeHead(out, view, at, 0, length);
    offset += length;
  }
  out.set(VERSION_PAIR, at);
  at += VERSION_PAIR.length;
  view.setUint32(4, at - PACK_PREFIX_BYTES, false);
  return out.subarray(0, at);
}
