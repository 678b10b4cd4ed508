import { LimitExceededError, MalformedCborError } from "../image-errors.ts";
import type { CodecLimits } from "./codec-limits.ts";

/**
 * A structural check of untrusted CBOR bytes, run before any decoder allocates anything.
 * It walks the item heads without building values and refuses:
 * - bytes that are not exactly one well-formed item;
 * - anything outside the subset vkc writes: unsigned/negative integers, byte and text strings,
 *   arrays, maps with text keys, false/true/null — no tags, floats, `undefined`, simple values
 *   or indefinite lengths;
 * - duplicate map keys and the key `__proto__`;
 * - lengths, counts and depth past `limits`, and any declared length or count larger than
 *   the bytes that remain (so a hostile head cannot make a reader allocate).
 */
export function scanCbor(bytes: Uint8Array, what: string, limits: CodecLimits): void {
  let pos = 0;
  const end = bytes.length;
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  const fail = (problem: string): never => {
    throw new MalformedCborError(what, `${problem} at byte ${pos}`);
  };

  const readHead = (): { major: number; value: number } => {
    if (pos >= end) fail("truncated");
    const initial = bytes[pos++]!;
    const major = initial >> 5;
    const info = initial & 31;
    if (info < 24) return { major, value: info };
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) fail(info === 31 ? "indefinite length" : `reserved additional info ${info}`);
    if (pos + size > end) fail("truncated");
    let value = 0;
    for (let i = 0; i < size; i++) value = value * 256 + bytes[pos++]!;
    if (value > Number.MAX_SAFE_INTEGER) fail("integer or length above 2^53-1");
    return { major, value };
  };

  const item = (depth: number, path: string): void => {
    if (depth > limits.maxDepth) {
      throw new LimitExceededError(`${what}${path}`, `nesting deeper than ${limits.maxDepth}`);
    }
    const start = pos;
    if (pos < end && bytes[pos]! >= 0xf9 && bytes[pos]! <= 0xfb)
      fail("floating-point numbers are not allowed");
    const { major, value } = readHead();
    switch (major) {
      case 0:
      case 1:
        return;
      case 2:
      case 3: {
        const max = major === 2 ? limits.maxBytesLength : limits.maxStringBytes;
        if (value > max) {
          throw new LimitExceededError(
            `${what}${path}`,
            `${major === 2 ? "byte" : "text"} string of ${value} bytes (limit ${max})`,
          );
        }
        if (value > end - pos) fail(`string of ${value} bytes but only ${end - pos} remain`);
        if (major === 3) {
          try {
            utf8.decode(bytes.subarray(pos, pos + value));
          } catch {
            pos = start;
            fail("text string is not UTF-8");
          }
        }
        pos += value;
        return;
      }
      case 4: {
        if (value > limits.maxArrayLength) {
          throw new LimitExceededError(
            `${what}${path}`,
            `array of ${value} items (limit ${limits.maxArrayLength})`,
          );
        }
        if (value > end - pos) fail(`array of ${value} items but only ${end - pos} bytes remain`);
        for (let i = 0; i < value; i++) item(depth + 1, `${path}[${i}]`);
        return;
      }
      case 5: {
        if (value > limits.maxMapEntries) {
          throw new LimitExceededError(
            `${what}${path}`,
            `map of ${value} entries (limit ${limits.maxMapEntries})`,
          );
        }
        if (value * 2 > end - pos) fail(`map of ${value} entries but only ${end - pos} bytes remain`);
        const keys = new Set<string>();
        for (let i = 0; i < value; i++) {
          const keyStart = pos;
          const key = readHead();
          if (key.major !== 3) {
            pos = keyStart;
            fail("map key is not a text string");
          }
          if (key.value > limits.maxStringBytes || key.value > end - pos) fail("map key too long");
          let name = "";
          try {
            name = utf8.decode(bytes.subarray(pos, pos + key.value));
          } catch {
            pos = keyStart;
            fail("map key is not UTF-8");
          }
          pos += key.value;
          if (keys.has(name)) {
            pos = keyStart;
            fail(`duplicate map key ${JSON.stringify(name)}`);
          }
          if (name === "__proto__") {
            pos = keyStart;
            fail("map key __proto__");
          }
          keys.add(name);
          item(depth + 1, `${path}.${name}`);
        }
        return;
      }
      case 6:
        pos = start;
        fail("tags are not allowed");
        return;
      default: {
        // major 7: only false (20), true (21), null (22)
        if (value === 20 || value === 21 || value === 22) {
          if (bytes[start]! >= 0xf8) {
            pos = start;
            fail("simple value in two bytes");
          }
          return;
        }
        pos = start;
        fail(
          bytes[start]! >= 0xf9 && bytes[start]! <= 0xfb
            ? "floating-point numbers are not allowed"
            : `simple value ${value} is not allowed`,
        );
      }
    }
  };

  if (end === 0) fail("empty input");
  item(0, "");
  if (pos !== end) fail(`${end - pos} bytes after the item`);
}
