import { randomBytes } from "node:crypto";
import { Decoder, Encoder } from "cbor-x";
import { InvalidArgumentError, InvalidImageError, MalformedCborError } from "../image-errors.ts";
import type { CborValue } from "../model/model-values.ts";
import { scanCbor } from "./codec-cbor-scan.ts";
import type { CodecLimits } from "./codec-limits.ts";

/**
 * Canonical CBOR: RFC 8949 §4.2.1 core deterministic encoding for the subset vkc uses.
 * - integers in the shortest head (cbor-x writes integers past 2^32 as floats, so they are
 *   handed to it as bigints, which it writes as 8-byte heads);
 * - byte strings as plain major type 2 (cbor-x would tag a bare Uint8Array);
 * - definite lengths in the shortest head (`variableMapSize`);
 * - map keys sorted by their encoded bytes (shorter keys first, then bytewise);
 * - absent (`undefined`) map values dropped.
 * So the same manifest always yields the same bytes, and hashes are taken over those bytes.
 */
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  pack: false,
});

const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** A tree ready for cbor-x: plain objects in canonical key order, Buffers, bigints. */
type Prepared = null | boolean | number | bigint | string | Buffer | Prepared[] | { [key: string]: Prepared };

export type EncodableValue =
  | undefined
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly EncodableValue[]
  | { readonly [key: string]: EncodableValue };

const MAX_ENCODE_DEPTH = 64;

function compareKeys(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  if (la !== lb) return la - lb;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function isSmallUintArray(values: readonly EncodableValue[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 0xffffffff) || Math.floor(v) !== v) return false;
  }
  return true;
}

/**
 * Byte strings at least this long are not handed to cbor-x: each is replaced by a 16-byte
 * placeholder while the tree is encoded, then spliced back in as a view (`encodeCanonicalParts`),
 * so a manifest's page maps (megabytes) are copied once, into the output, instead of through
 * cbor-x's growing buffer and a copy of it. Fresh memory is slow to touch on virtual machines.
 */
const SPLICE_MIN_BYTES = 4096;
const PLACEHOLDER_BYTES = 16;

/** The large byte strings of one encoding, in the order `prepare` met them (= encoding order). */
interface Splices {
  readonly token: Buffer;
  readonly bytes: Uint8Array[];
}

/** The placeholder of splice `n`: the run's random token with `n` in its last 4 bytes. */
function placeholder(splices: Splices, n: number): Buffer {
  const out = Buffer.from(splices.token);
  out.writeUInt32BE(n, PLACEHOLDER_BYTES - 4);
  return out;
}

/** The shortest CBOR head of a byte string of `n` bytes (major type 2). */
export function byteStringHead(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x40 | n);
  if (n < 0x100) return Uint8Array.of(0x58, n);
  if (n < 0x10000) return Uint8Array.of(0x59, n >> 8, n & 0xff);
  return Uint8Array.of(0x5a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function prepare(value: EncodableValue, path: string, depth: number, splices?: Splices): Prepared {
  if (depth > MAX_ENCODE_DEPTH)
    throw new InvalidArgumentError(path, `nesting deeper than ${MAX_ENCODE_DEPTH}`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidImageError(path, `expected an integer within ±(2^53-1), got ${value}`);
    }
    return value > 0xffffffff || value < -0x100000000 ? BigInt(value) : value;
  }
  if (value instanceof Uint8Array) {
    if (splices !== undefined && value.length >= SPLICE_MIN_BYTES) {
      splices.bytes.push(value);
      return placeholder(splices, splices.bytes.length - 1);
    }
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) {
    // Fast path for the long arrays of an image (page indexes, registers): small unsigned
    // integers are already what cbor-x writes canonically, so they need no per-element work.
    if (isSmallUintArray(value)) return value as number[];
    return value.map((v, i) => {
      if (v === undefined) throw new InvalidImageError(`${path}[${i}]`, "undefined in an array");
      return prepare(v, `${path}[${i}]`, depth + 1, splices);
    });
  }
  if (typeof value === "object" && value !== undefined) {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidImageError(path, "expected a plain object");
    }
    const out: { [key: string]: Prepared } = {};
    const record = value as { readonly [key: string]: EncodableValue };
    for (const key of Object.keys(record).sort(compareKeys)) {
      const v = record[key];
      if (v === undefined) continue;
      out[key] = prepare(v, `${path}.${key}`, depth + 1, splices);
    }
    return out;
  }
  throw new InvalidImageError(path, `cannot encode a ${typeof value}`);
}

/** Encode `value` canonically; the result is a fresh copy, safe to keep. */
export function encodeCanonical(value: EncodableValue, path = "value"): Uint8Array {
  if (value === undefined) throw new InvalidArgumentError(path, "cannot encode undefined");
  const prepared = prepare(value, path, 0);
  return new Uint8Array(encoder.encode(prepared));
}

/**
 * `encodeCanonical(value)` as consecutive parts: small encoded runs (fresh copies) and views of
 * the large byte strings of `value` itself, with their heads. The caller assembles them once (and
 * must not change `value`'s byte strings before it has).
 */
export function encodeCanonicalParts(value: EncodableValue, path = "value"): Uint8Array[] {
  if (value === undefined) throw new InvalidArgumentError(path, "cannot encode undefined");
  const splices: Splices = { token: randomBytes(PLACEHOLDER_BYTES), bytes: [] };
  const encoded: Buffer = encoder.encode(prepare(value, path, 0, splices));
  const parts: Uint8Array[] = [];
  let from = 0;
  splices.bytes.forEach((bytes, n) => {
    const at = encoded.indexOf(placeholder(splices, n), from);
    // Each placeholder is a 16-byte string (head 0x50), found in the order it was made.
    if (at < 1 || encoded[at - 1] !== 0x40 + PLACEHOLDER_BYTES)
      throw new InvalidArgumentError(path, "byte string placeholder lost in encoding");
    parts.push(new Uint8Array(encoded.subarray(from, at - 1)), byteStringHead(bytes.length), bytes);
    from = at + PLACEHOLDER_BYTES;
  });
  parts.push(new Uint8Array(encoded.subarray(from)));
  return parts;
}

/**
 * Decode untrusted bytes: scan first (limits, subset, duplicate keys), then decode with cbor-x.
 * The result may hold bigints (integers past 2^32) and Buffer views into `bytes`; the shape
 * readers in `codec-fields.ts` turn them into numbers and copies.
 */
export function decodeChecked(bytes: Uint8Array, what: string, limits: CodecLimits): unknown {
  scanCbor(bytes, what, limits);
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new MalformedCborError(what, `cbor decode failed: ${String(cause).split("\n")[0]}`, { cause });
  }
}

/** Turn a decoded opaque value into a `CborValue` (numbers, Uint8Array copies, plain objects). */
export function toCborValue(value: unknown, path: string): CborValue {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new InvalidImageError(path, "integer outside ±(2^53-1)");
    }
    return Number(value);
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map((v, i) => toCborValue(v, `${path}[${i}]`));
  if (typeof value === "object" && value !== undefined) {
    const out: Record<string, CborValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toCborValue(v, `${path}.${k}`);
    return out;
  }
  throw new InvalidImageError(path, `unexpected ${typeof value}`);
}
