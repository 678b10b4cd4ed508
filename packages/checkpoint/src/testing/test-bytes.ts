/**
 * Byte helpers for store tests: deterministic pseudo-random values (no crypto, fast enough to
 * fill tens of MiB) and a comparison that reports where two values differ instead of printing
 * megabytes of diff.
 */

/** `size` pseudo-random bytes from `seed` (xorshift32); the same seed gives the same bytes. */
export function seededBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 0x9e3779b9;
  const words = Math.floor(size / 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    view.setUint32(i * 4, x, true);
  }
  for (let i = words * 4; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Every byte value 0..255, then 255..0, `repeat` times. */
export function allByteValues(repeat = 2): Uint8Array {
  const out = new Uint8Array(512 * repeat);
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < 256; i++) {
      out[r * 512 + i] = i;
      out[r * 512 + 256 + i] = 255 - i;
    }
  }
  return out;
}

/** Text bytes, for small readable values. */
export function textBytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * `undefined` when `actual` holds exactly the bytes of `expected`, else a one-line description
 * of the first difference.
 */
export function bytesDifference(actual: unknown, expected: Uint8Array): string | undefined {
  if (!(actual instanceof Uint8Array)) {
    return `expected a Uint8Array of ${expected.byteLength} bytes, got ${describe(actual)}`;
  }
  const n = Math.min(actual.byteLength, expected.byteLength);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      return `byte ${i} is ${actual[i]}, expected ${expected[i]} (lengths ${actual.byteLength} and ${expected.byteLength})`;
    }
  }
  if (actual.byteLength !== expected.byteLength) {
    return `length is ${actual.byteLength}, expected ${expected.byteLength} (the first ${n} bytes agree)`;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

/** Concatenate chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Split `data` into chunks of `size` bytes (the last one shorter), as views. */
export function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.byteLength; at += size) out.push(data.subarray(at, at + size));
  return out;
}
