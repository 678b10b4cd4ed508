import { InvalidImageError, LimitExceededError } from "../image-errors.ts";
import type { CborMap, Sha256Hex } from "../model/model-values.ts";
import { toCborValue } from "./codec-canonical.ts";

/**
 * Shape readers for decoded (already scanned) CBOR. Each names the field path in its error,
 * e.g. `manifest.processes[0].lwps[3].regs: expected 33 u32, got 12`. Unknown keys are ignored.
 */
export type Fields = { readonly [key: string]: unknown };

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === "string") return `text ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value)}`;
}

export function fail(path: string, problem: string): never {
  throw new InvalidImageError(path, problem);
}

export function asMap(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail(path, `expected a map, got ${describe(value)}`);
  }
  return value as Fields;
}

export function has(map: Fields, key: string): boolean {
  return Object.hasOwn(map, key) && map[key] !== undefined;
}

function intOf(value: unknown, path: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (
    typeof value === "bigint" &&
    value <= BigInt(Number.MAX_SAFE_INTEGER) &&
    value >= -BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return Number(value);
  }
  return fail(path, `expected an integer, got ${describe(value)}`);
}

/** An unsigned integer at most `max` (default 2^32-1). */
export function uint(value: unknown, path: string, max = 0xffffffff): number {
  const n = intOf(value, path);
  if (n < 0 || n > max) fail(path, `expected an integer in 0..${max}, got ${n}`);
  return n;
}

export const U53 = Number.MAX_SAFE_INTEGER;

export function bool(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") fail(path, `expected a boolean, got ${describe(value)}`);
  return value;
}

export function text(value: unknown, path: string): string {
  if (typeof value !== "string") fail(path, `expected text, got ${describe(value)}`);
  return value;
}

export function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  const s = text(value, path);
  if (!(allowed as readonly string[]).includes(s)) {
    fail(path, `expected one of ${allowed.join("|")}, got ${JSON.stringify(s.slice(0, 40))}`);
  }
  return s as T;
}

/** A copy of a byte string, optionally of an exact length. */
export function bytes(value: unknown, path: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(path, `expected bytes, got ${describe(value)}`);
  if (length !== undefined && value.length !== length)
    fail(path, `expected ${length} bytes, got ${value.length}`);
  return new Uint8Array(value);
}

/**
 * Like `bytes`, but a view of the decoded value, not a copy: for byte strings that are only read
 * (a manifest body while it is checked) or large ones kept as views of the input (page maps).
 */
export function bytesView(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(path, `expected bytes, got ${describe(value)}`);
  return new Uint8Array(value.buffer, value.byteOffset, value.length);
}

/** An array of at most `max` items, each read by `item`. */
export function list<T>(
  value: unknown,
  path: string,
  max: number,
  item: (v: unknown, itemPath: string, index: number) => T,
): T[] {
  if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
  if (value.length > max) throw new LimitExceededError(path, `${value.length} items (limit ${max})`);
  return value.map((v, i) => item(v, `${path}[${i}]`, i));
}

/**
 * `list(value, path, max, uint)` for long arrays (page maps): the same checks and errors, but an
 * item's path is built only when that item fails (a string per item costs more than the check).
 */
export function uintList(value: unknown, path: string, max: number): Uint32Array {
  if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
  if (value.length > max) throw new LimitExceededError(path, `${value.length} items (limit ${max})`);
  const out = new Uint32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    out[i] =
      typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff
        ? v
        : uint(v, `${path}[${i}]`);
  }
  return out;
}

/** Whether this machine stores numbers little-endian, as format 1.3's page indexes are. */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * A byte string of unsigned 32-bit little-endian numbers, at most `max` of them: a view of it
 * when it is aligned (and this machine little-endian), else a copy.
 */
export function u32List(value: Uint8Array, path: string, max: number): Uint32Array {
  if (value.length % 4 !== 0) fail(path, `expected a multiple of 4 bytes, got ${value.length}`);
  const count = value.length / 4;
  if (count > max) throw new LimitExceededError(path, `${count} items (limit ${max})`);
  if (LITTLE_ENDIAN && value.byteOffset % 4 === 0)
    return new Uint32Array(value.buffer, value.byteOffset, count);
  const out = new Uint32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(value);
    return out;
  }
  const view = new DataView(value.buffer, value.byteOffset, value.length);
  for (let k = 0; k < count; k++) out[k] = view.getUint32(k * 4, true);
  return out;
}

export function hash(value: unknown, path: string): Sha256Hex {
  return Buffer.from(bytes(value, path, 32)).toString("hex");
}

export function cborMap(value: unknown, path: string): CborMap {
  return toCborValue(asMap(value, path), path) as CborMap;
}

/** Read a required field. */
export function req<T>(map: Fields, key: string, path: string, read: (v: unknown, p: string) => T): T {
  if (!has(map, key)) fail(`${path}.${key}`, "missing");
  return read(map[key], `${path}.${key}`);
}

/** Read an optional field (absent or null → undefined). */
export function opt<T>(
  map: Fields,
  key: string,
  path: string,
  read: (v: unknown, p: string) => T,
): T | undefined {
  if (!has(map, key) || map[key] === null) return undefined;
  return read(map[key], `${path}.${key}`);
}

export const HEX64 = /^[0-9a-f]{64}$/;

export function hexToBytes(hex: Sha256Hex, path: string): Uint8Array {
  if (!HEX64.test(hex))
    fail(path, `expected 64 lowercase hex characters, got ${JSON.stringify(hex.slice(0, 70))}`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** All keys of `T`, each required but allowed to be `undefined`: lists every field explicitly. */
export type Loose<T> = { [K in keyof T]-?: T[K] | undefined };

/** Drop `undefined` fields (for `exactOptionalPropertyTypes`). */
export function compact<T>(fields: Loose<T>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as T;
}
