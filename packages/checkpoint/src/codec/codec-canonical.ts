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

function prepare(value: EncodableValue, path: string, depth: number): Prepared {
  if (depth > MAX_ENCODE_DEPTH)
    throw new InvalidArgumentError(path, `nesting deeper than ${MAX_ENCODE_DEPTH}`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidImageError(path, `expected an integer within ±(2^53-1), got ${value}`);
    }
    return value > 0xffffffff || value < -0x100000000 ? BigInt(value) : value;
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    // Fast path for the long arrays of an image (page indexes, registers): small unsigned
    // integers are already what cbor-x writes canonically, so they need no per-element work.
    if (isSmallUintArray(value)) return value as number[];
    return value.map((v, i) => {
      if (v === undefined) throw new InvalidImageError(`${path}[${i}]`, "undefined in an array");
      return prepare(v, `${path}[${i}]`, depth + 1);
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
      out[key] = prepare(v, `${path}.${key}`, depth + 1);
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
