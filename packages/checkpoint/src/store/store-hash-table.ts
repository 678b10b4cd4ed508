import { randomBytes } from "node:crypto";

/**
 * A set of 32-byte hashes, each with a non-negative number, in typed arrays (open addressing,
 * linear probing; made at most half full for the entries expected, doubled when 3/4 full, so a
 * table sized for one image takes in half as many again before it is rehashed, as a chain's
 * table does with its incrementals' pages): no object or string per entry, so a million pages
 * cost a few milliseconds and no garbage. Buckets mix all eight words of a hash with random odd
 * multipliers chosen per process, so hashes crafted to share bytes do not pile up in one run.
 */
const MULTIPLIERS = (() => {
  const random = new Uint32Array(randomBytes(32).buffer);
  return Array.from(random, (m) => (m | 1) >>> 0);
})();

export class HashTable {
  private keys: Uint8Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 8) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.keys = new Uint8Array(capacity * 32);
    this.values = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Map the hash at `hashes[at .. at + 32)` to `value` (≥ 0), replacing an earlier value. */
  set(hashes: Uint8Array, at: number, value: number): void {
    if ((this.count + 1) * 4 > this.values.length * 3) this.grow();
    let slot = this.bucket(hashes, at);
    while (this.values[slot] !== -1) {
      if (this.same(slot, hashes, at)) {
        this.values[slot] = value;
        return;
      }
      slot = (slot + 1) & this.mask;
    }
    const base = slot * 32;
    for (let i = 0; i < 32; i++) this.keys[base + i] = hashes[at + i]!;
    this.values[slot] = value;
    this.count++;
  }

  /** Replace every value `v` by `map(v)` (≥ 0), in place: no key is moved or copied. */
  mapValues(map: (value: number) => number): void {
    const values = this.values;
    for (let slot = 0; slot < values.length; slot++)
      if (values[slot] !== -1) values[slot] = map(values[slot]!);
  }

  /** The value of the hash at `hashes[at .. at + 32)`, or -1. */
  get(hashes: Uint8Array, at: number): number {
    let slot = this.bucket(hashes, at);
    for (;;) {
      const value = this.values[slot]!;
      if (value === -1 || this.same(slot, hashes, at)) return value;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    this.rehash(this.values.length * 2);
  }

  private rehash(capacity: number): void {
    const keys = this.keys;
    const values = this.values;
    this.keys = new Uint8Array(capacity * 32);
    this.values = new Int32Array(capacity).fill(-1);
    this.mask = this.values.length - 1;
    this.count = 0;
    for (let slot = 0; slot < values.length; slot++) {
      if (values[slot] !== -1) this.set(keys, slot * 32, values[slot]!);
    }
  }

  private bucket(h: Uint8Array, at: number): number {
    let mixed = 0;
    for (let w = 0; w < 8; w++) {
      const i = at + w * 4;
      const word = h[i]! | (h[i + 1]! << 8) | (h[i + 2]! << 16) | (h[i + 3]! << 24);
      mixed = (Math.imul(mixed ^ word, MULTIPLIERS[w]!) + (mixed >>> 15)) | 0;
    }
    return (mixed ^ (mixed >>> 16)) & this.mask;
  }

  private same(slot: number, h: Uint8Array, at: number): boolean {
    const base = slot * 32;
    for (let i = 0; i < 32; i++) if (this.keys[base + i] !== h[at + i]) return false;
    return true;
  }
}
