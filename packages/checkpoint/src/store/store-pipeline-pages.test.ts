import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HashPool } from "./store-hash-pool.ts";
import { hashPageBatches } from "./store-pipeline-pages.ts";

const PAGE = 64;

function page(n: number): Uint8Array {
  return new Uint8Array(PAGE).fill(n & 0xff).map((b, i) => (b + i * n) & 0xff);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("hashPageBatches", () => {
  for (const [batchPages, count] of [
    [4, 0],
    [4, 3],
    [4, 4],
    [4, 17],
    [1, 5],
  ] as const) {
    it(`hands back ${count} pages in order with their digests (batches of ${batchPages})`, async () => {
      const items = Array.from({ length: count }, (_, i) => ({ n: i + 1, bytes: page(i + 1) }));
      // The caller keeps what it needs of each accepted item, in order: batches carry only bytes.
      const accepted: typeof items = [];
      const seen: number[] = [];
      const accept = (item: (typeof items)[number]) => {
        accepted.push(item);
        return item.bytes;
      };
      const batches = hashPageBatches(items, accept, new HashPool(1), {
        pageSize: PAGE,
        batchPages,
        batchesAhead: 2,
      });
      for await (const { count: got, digests, pages } of batches) {
        expect(got).toBeGreaterThan(0);
        expect(got).toBeLessThanOrEqual(batchPages);
        expect(digests.length).toBe(got * 32);
        for (let k = 0; k < got; k++) {
          const item = accepted[seen.length]!;
          seen.push(item.n);
          expect(Buffer.from(pages.subarray(k * PAGE, (k + 1) * PAGE)).equals(Buffer.from(item.bytes))).toBe(
            true,
          );
          expect(Buffer.from(digests.subarray(k * 32, k * 32 + 32)).toString("hex")).toBe(sha(item.bytes));
        }
      }
      expect(seen).toEqual(items.map((i) => i.n));
    });
  }

  it("skips what accept refuses and passes on what it throws", async () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ n: i, bytes: page(i + 1) }));
    const accepted: number[] = [];
    const accept = (i: { n: number; bytes: Uint8Array }) => {
      if (i.n % 3 === 0) return undefined;
      accepted.push(i.n);
      return i.bytes;
    };
    const sizes: number[] = [];
    for await (const batch of hashPageBatches(items, accept, new HashPool(0), {
      pageSize: PAGE,
      batchPages: 2,
    }))
      sizes.push(batch.count);
    expect(accepted).toEqual([1, 2, 4, 5, 7, 8]);
    expect(sizes).toEqual([2, 2, 2]);

    const refusing = (i: { n: number; bytes: Uint8Array }) => {
      if (i.n === 4) throw new Error("page 4 refused");
      return i.bytes;
    };
    const run = async () => {
      for await (const _ of hashPageBatches(items, refusing, new HashPool(1), { pageSize: PAGE })) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow("page 4 refused");
  });

  it("reads a plain iterable with no await between the items of a batch", async () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ n: i, bytes: page(i + 1) }));
    let ticks = 0;
    const seenAt: number[] = [];
    const accept = (i: { n: number; bytes: Uint8Array }) => {
      seenAt.push(ticks);
      queueMicrotask(() => ticks++);
      return i.bytes;
    };
    let pages = 0;
    for await (const batch of hashPageBatches(items, accept, new HashPool(0), {
      pageSize: PAGE,
      batchPages: 4,
    }))
      pages += batch.count;
    expect(pages).toBe(10);
    // items 0-3, 4-7 and 8-9 each went in at one instant; time moved only between batches
    expect(new Set(seenAt.slice(0, 4)).size).toBe(1);
    expect(new Set(seenAt.slice(4, 8)).size).toBe(1);
    expect(new Set(seenAt.slice(8)).size).toBe(1);
    expect(seenAt[4]!).toBeGreaterThan(seenAt[3]!);
  });

  it("passes on the source's error", async () => {
    async function* failing() {
      yield { bytes: page(1) };
      throw new Error("source broke");
    }
    const run = async () => {
      for await (const _ of hashPageBatches(failing(), (i) => i.bytes, new HashPool(0), { pageSize: PAGE })) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow("source broke");
  });
});
