import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HashPool } from "./store-hash-pool.ts";
import { hashPagesInOrder } from "./store-pipeline-pages.ts";

const PAGE = 64;

function page(n: number): Uint8Array {
  return new Uint8Array(PAGE).fill(n & 0xff).map((b, i) => (b + i * n) & 0xff);
}

describe("hashPagesInOrder", () => {
  for (const [batchPages, count] of [
    [4, 0],
    [4, 3],
    [4, 4],
    [4, 17],
    [1, 5],
  ] as const) {
    it(`hands back ${count} pages in order with their digests (batches of ${batchPages})`, async () => {
      const items = Array.from({ length: count }, (_, i) => ({ n: i + 1, bytes: page(i + 1) }));
      const seen: number[] = [];
      for await (const { item, digest, bytes } of hashPagesInOrder(items, (i) => i.bytes, new HashPool(1), {
        pageSize: PAGE,
        batchPages,
        batchesAhead: 2,
      })) {
        seen.push(item.n);
        expect(Buffer.from(bytes).equals(Buffer.from(item.bytes))).toBe(true);
        expect(Buffer.from(digest).toString("hex")).toBe(
          createHash("sha256").update(item.bytes).digest("hex"),
        );
      }
      expect(seen).toEqual(items.map((i) => i.n));
    });
  }

  it("passes on the source's error", async () => {
    async function* failing() {
      yield { bytes: page(1) };
      throw new Error("source broke");
    }
    const run = async () => {
      for await (const _ of hashPagesInOrder(failing(), (i) => i.bytes, new HashPool(0), {
        pageSize: PAGE,
      })) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow("source broke");
  });
});
