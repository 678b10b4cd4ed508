import type { CborMap, CborValue } from "@vkc/checkpoint";

/**
 * Checked reads of the opaque `extensions` maps a thaw gets from an untrusted image. Every
 * getter throws `CborShapeError` naming the field, which the thaw turns into a typed error.
 */
export class CborShapeError extends Error {}

function fail(path: string, want: string): never {
  throw new CborShapeError(`${path}: expected ${want}`);
}

export function isMap(v: CborValue | undefined): v is CborMap {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function map(v: CborValue | undefined, path: string): CborMap {
  if (!isMap(v)) fail(path, "a map");
  return v;
}

export function int(m: CborMap, key: string, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = m[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
    fail(`${path}.${key}`, `an integer in ${min}..${max}`);
  return v;
}

export function intOrNull(
  m: CborMap,
  key: string,
  path: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | null {
  return m[key] === null || m[key] === undefined ? null : int(m, key, path, min, max);
}

export function bool(m: CborMap, key: string, path: string): boolean {
  const v = m[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") fail(`${path}.${key}`, "a boolean");
  return v;
}

export function str(m: CborMap, key: string, path: string): string {
  const v = m[key];
  if (typeof v !== "string") fail(`${path}.${key}`, "a string");
  return v;
}

export function strOrNull(m: CborMap, key: string, path: string): string | null {
  return m[key] === null || m[key] === undefined ? null : str(m, key, path);
}

export function bytes(m: CborMap, key: string, path: string): Uint8Array {
  const v = m[key];
  if (!(v instanceof Uint8Array)) fail(`${path}.${key}`, "a byte string");
  return v;
}

export function list(m: CborMap, key: string, path: string): readonly CborValue[] {
  const v = m[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${path}.${key}`, "an array");
  return v as readonly CborValue[];
}

export function ints(
  m: CborMap,
  key: string,
  path: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number[] {
  return list(m, key, path).map((v, i) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
      fail(`${path}.${key}[${i}]`, `an integer in ${min}..${max}`);
    return v;
  });
}
