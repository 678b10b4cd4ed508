import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isAllZero } from "./store-hash.ts";
import { HashPool } from "./store-hash-pool.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest();

describe("HashPool", () => {
  for (const size of [0, 1, 2]) {
    it(`hashes pages and whole values like node:crypto (${size} workers)`, async () => {
      const pool = new HashPool(size);
      const data = new Uint8Array(randomBytes(4096 * 5));
      const expected = Array.from({ length: 5 }, (_, i) => sha(data.subarray(i * 4096, (i + 1) * 4096)));
      const copy = data.slice();
      const { data: back, digests } = await pool.pageDigests(data, 4096);
      expect(Buffer.from(back).equals(Buffer.from(copy))).toBe(true);
      expect(Buffer.from(digests).equals(Buffer.concat(expected))).toBe(true);

      // the caller gives its buffers up until the answer comes: expectations are taken first
      const head = new Uint8Array([1, 2, 3]);
      const whole = createHash("sha256").update(head).update(copy).digest("hex");
      const kept = copy.slice();
      const { hex, parts } = await pool.digestHex([head, copy]);
      expect(hex).toBe(whole);
      expect(Buffer.from(parts[1]!).equals(Buffer.from(kept))).toBe(true);

      // ranges of any length and place, in the order given
      const ranges = Float64Array.from([4096, 100, 0, 0, 7, 4096 * 4]);
      const want = [
        sha(kept.subarray(4096, 4196)),
        sha(new Uint8Array(0)),
        sha(kept.subarray(7, 7 + 4096 * 4)),
      ];
      const ranged = await pool.rangeDigests(kept.slice(), ranges);
      expect(Buffer.from(ranged.digests).equals(Buffer.concat(want))).toBe(true);
      expect(Buffer.from(ranged.data).equals(Buffer.from(kept))).toBe(true);
    });
  }

  it("copies a view it cannot give away, leaving the caller's buffer intact", async () => {
    const pool = new HashPool(1);
    const big = new Uint8Array(randomBytes(3 * 4096));
    const view = big.subarray(4096, 8192); // part of a larger buffer: must not be transferred
    const { digests } = await pool.pageDigests(view, 4096);
    expect(big.byteLength).toBe(3 * 4096);
    expect(Buffer.from(digests).equals(sha(big.subarray(4096, 8192)))).toBe(true);
  });

  for (const size of [0, 1]) {
    it(`reads a shared buffer in place, leaving the caller's views valid (${size} workers)`, async () => {
      const pool = new HashPool(size);
      const shared = new Uint8Array(new SharedArrayBuffer(5 * 4096));
      shared.set(randomBytes(shared.length));
      const view = shared.subarray(4096, 4 * 4096); // a part of it: shared, so never copied
      const want = Buffer.concat([1, 2, 3].map((i) => sha(shared.subarray(i * 4096, (i + 1) * 4096))));
      const { data, digests } = await pool.pageDigests(view, 4096);
      expect(data).toBe(view);
      expect(shared.buffer.byteLength).toBe(5 * 4096); // nothing was moved away
      expect(Buffer.from(digests).equals(want)).toBe(true);
      const ranged = await pool.rangeDigests(view, Float64Array.from([0, 4096, 100, 50]));
      expect(ranged.data).toBe(view);
      expect(
        Buffer.from(ranged.digests).equals(
          Buffer.concat([want.subarray(0, 32), sha(view.subarray(100, 150))]),
        ),
      ).toBe(true);
      const whole = await pool.digestHex([view, new Uint8Array([1, 2])]);
      expect(whole.hex).toBe(
        createHash("sha256")
          .update(view)
          .update(new Uint8Array([1, 2]))
          .digest("hex"),
      );
      expect(whole.parts[0]).toBe(view);
    });
  }

  it("runs many jobs at once and answers each with its own result", async () => {
    const pool = new HashPool(2);
    const values = Array.from({ length: 20 }, (_, i) => new Uint8Array(1000 + i).fill(i));
    const results = await Promise.all(values.map((v) => pool.digestHex([v.slice()])));
    expect(results.map((r) => r.hex)).toEqual(values.map((v) => sha(v).toString("hex")));
  });
});

describe("isAllZero", () => {
  it("finds a single set byte anywhere, aligned or not", () => {
    const buffer = new Uint8Array(4096 + 3);
    for (const offset of [0, 1, 3]) {
      const view = buffer.subarray(offset, offset + 4096);
      expect(isAllZero(view)).toBe(true);
      for (const at of [0, 7, 8, 2047, 4095]) {
        view[at] = 0x80;
        expect(isAllZero(view)).toBe(false);
        view[at] = 0;
      }
    }
    expect(isAllZero(new Uint8Array(0))).toBe(true);
  });
});
