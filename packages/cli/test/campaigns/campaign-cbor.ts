import { createHash } from "node:crypto";

/**
 * A tiny CBOR codec for the hostile-image campaign: enough of RFC 8949 to take a real
 * manifest apart, change it in ways the image store's encoder refuses to write, and put it
 * back together canonically, with `RawCbor` for heads no encoder would emit.
 */

export type Cbor = number | string | boolean | null | Uint8Array | Cbor[] | { [key: string]: Cbor } | RawCbor;

/** Bytes spliced into the output as they are (a lying head, say). */
export class RawCbor {
  constructor(readonly bytes: Uint8Array) {}
}

function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  if (n < 0x1_0000_0000) return [m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const hi = Math.floor(n / 0x1_0000_0000);
  return [m | 27, ...u32(hi), ...u32(n >>> 0)];
}
const u32 = (n: number): number[] => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

function encodeInto(value: Cbor, out: number[]): void {
  if (value instanceof RawCbor) out.push(...value.bytes);
  else if (value === null) out.push(0xf6);
  else if (value === true) out.push(0xf5);
  else if (value === false) out.push(0xf4);
  else if (typeof value === "number") out.push(...(value >= 0 ? head(0, value) : head(1, -1 - value)));
  else if (typeof value === "string") {
    const bytes = new TextEncoder().encode(value);
    out.push(...head(3, bytes.length), ...bytes);
  } else if (value instanceof Uint8Array) out.push(...head(2, value.length), ...value);
  else if (Array.isArray(value)) {
    out.push(...head(4, value.length));
    for (const item of value) encodeInto(item, out);
  } else {
    // Canonical order (RFC 8949 §4.2.1): keys sorted by their encoded bytes.
    const keys = Object.keys(value)
      .map((k) => ({ k, enc: encode(k) }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.enc), Buffer.from(b.enc)));
    out.push(...head(5, keys.length));
    for (const { k, enc } of keys) {
      out.push(...enc);
      encodeInto(value[k] as Cbor, out);
    }
  }
}

export function encode(value: Cbor): Uint8Array {
  const out: number[] = [];
  encodeInto(value, out);
  return Uint8Array.from(out);
}

/** Decodes the definite-length subset vkc writes (maps with text keys). */
export function decode(bytes: Uint8Array): Cbor {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const arg = (info: number): number => {
    const start = at;
    if (info < 24) return info;
    if (info === 24) {
      at += 1;
      return bytes[start] ?? 0;
    }
    if (info === 25) {
      at += 2;
      return view.getUint16(start);
    }
    if (info === 26) {
      at += 4;
      return view.getUint32(start);
    }
    if (info === 27) {
      at += 8;
      return view.getUint32(start) * 0x1_0000_0000 + view.getUint32(start + 4);
    }
    throw new Error(`unsupported CBOR head ${info}`);
  };
  const take = (n: number): Uint8Array => {
    at += n;
    return bytes.subarray(at - n, at);
  };
  const item = (): Cbor => {
    const initial = bytes[at++] ?? 0;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return info === 21 ? true : info === 20 ? false : null;
    const n = arg(info);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2:
        return take(n).slice();
      case 3:
        return new TextDecoder().decode(take(n));
      case 4:
        return Array.from({ length: n }, item);
      case 5: {
        const map: { [key: string]: Cbor } = {};
        for (let i = 0; i < n; i++) {
          const key = item();
          map[String(key)] = item();
        }
        return map;
      }
      default:
        throw new Error(`unsupported CBOR major type ${major}`);
    }
  };
  return item();
}

/**
 * An envelope (FORMAT.md §3) around `body`, with a correct digest; returns its id too.
 * `version` must be the body's own (a reader refuses an envelope whose version differs).
 */
export function envelope(
  body: Uint8Array,
  version: Cbor,
  format = "vkc-image",
): { id: string; bytes: Uint8Array } {
  const digest = createHash("sha256").update(body).digest();
  const bytes = encode({ digest: Uint8Array.from(digest), format, version, manifest: body });
  return { id: digest.toString("hex"), bytes };
}
