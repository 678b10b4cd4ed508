import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sampleDraft } from "../__fixtures__/sample-image.ts";
import type { ManifestDraft, PageWrite } from "../model/model-manifest.ts";
import { PAGE_SIZE } from "../model/model-values.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createPageStage } from "./store-stage.ts";

function page(seed: number): Uint8Array {
  const bytes = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i += 97) bytes[i] = (seed * 31 + i) & 0xff;
  bytes[0] = seed & 0xff;
  bytes[1] = 1;
  return bytes;
}

function batch(pages: readonly [number, number, Uint8Array][]): [number[], number[], Uint8Array] {
  const buffer = new Uint8Array(pages.length * PAGE_SIZE);
  for (const [i, [, , bytes]] of pages.entries()) buffer.set(bytes, i * PAGE_SIZE);
  return [pages.map((p) => p[0]), pages.map((p) => p[1]), buffer];
}

/** The sample image; its heap (object 2) inherits the staged pages when `inherit`. */
function draft(inherit: boolean): ManifestDraft {
  const d = sampleDraft();
  return {
    ...d,
    objects: d.objects.map((o) => (o.id === 2 && inherit ? { ...o, inheritFromParent: true } : o)),
  };
}

async function contents(
  images: ReturnType<typeof createImageStore>,
  id: string,
): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const p of images.readPages(id)) out.set(p.pageIndex, Buffer.from(p.bytes).toString("hex"));
  return out;
}

describe("PageStage (pre-copy staging)", () => {
  it("gives the same image as writing every page at once, streaming only what changed", async () => {
    const blobs = createMemoryStore();
    const images = createImageStore(blobs);
    const stage = createPageStage(images);
    const pages = [0, 1, 2, 3, 5, 8].map((i) => [2, i, page(i)] as [number, number, Uint8Array]);
    await stage.put(...batch(pages), pages.length);
    // Page 3 is staged again with new content; page 8 will be gone (streamed as zeros).
    await stage.put(...batch([[2, 3, page(103)]]), 1);
    const late: PageWrite[] = [
      { objectId: 2, pageIndex: 2, bytes: page(202) },
      { objectId: 2, pageIndex: 8, bytes: new Uint8Array(PAGE_SIZE) },
      { objectId: 2, pageIndex: 9, bytes: page(9) },
    ];
    const pre = await images.writeImage(draft(true), late, { refs: ["pre"], base: stage.base() });
    await stage.release();
    expect(pre.stats.pagesIn).toBe(2);
    expect(pre.manifest.parent).toBeUndefined();

    const all: PageWrite[] = [
      { objectId: 2, pageIndex: 0, bytes: page(0) },
      { objectId: 2, pageIndex: 1, bytes: page(1) },
      { objectId: 2, pageIndex: 2, bytes: page(202) },
      { objectId: 2, pageIndex: 3, bytes: page(103) },
      { objectId: 2, pageIndex: 5, bytes: page(5) },
      { objectId: 2, pageIndex: 9, bytes: page(9) },
    ];
    const full = await images.writeImage(draft(false), all, { refs: ["full"] });
    expect(await contents(images, pre.id)).toEqual(await contents(images, full.id));
    expect((await images.verify(pre.id)).ok).toBe(true);
  });

  it("is never listed as an image, and its packs survive gc while it lives", async () => {
    let now = 1_000_000;
    const images = createImageStore(createMemoryStore(), { now: () => now });
    const stage = createPageStage(images, { now: () => now });
    await stage.put(...batch([[2, 0, page(1)]]), 1);
    expect(await images.list()).toEqual([]);
    now += 10 * 3600_000;
    await images.gc({ graceMs: 0 });
    await images.gc({ graceMs: 0 });
    const pre = await images.writeImage(draft(true), [], { base: stage.base() });
    await stage.release();
    expect((await contents(images, pre.id)).get(0)).toBe(Buffer.from(page(1)).toString("hex"));
    expect((await images.verify()).ok).toBe(true);
  });

  it("refuses a batch shorter than its count, and puts after release", async () => {
    const stage = createPageStage(createImageStore(createMemoryStore()));
    await expect(stage.put([1], [0], new Uint8Array(PAGE_SIZE), 2)).rejects.toThrow(/fewer than 2/);
    await stage.release();
    await expect(stage.put([1], [0], page(1), 1)).rejects.toThrow(/released/);
  });
});

describe("PageStage dedup", () => {
  it("dedups the late pages against every staged pack, from the table it kept while staging", async () => {
    const blobs = createMemoryStore();
    const images = createImageStore(blobs);
    const stage = createPageStage(images);
    await stage.put(...batch([[2, 0, page(1)]]), 1); // pack A: content 1
    await stage.put(...batch([[2, 0, page(2)]]), 1); // page 0 restaged: pack A holds no staged page
    const base = stage.base();
    await stage.put(...batch([[2, 5, page(3)]]), 1); // after the snapshot: not in the base
    const late: PageWrite[] = [
      { objectId: 2, pageIndex: 1, bytes: page(1) }, // the content of dead pack A: reused
      { objectId: 2, pageIndex: 2, bytes: page(3) }, // staged after the snapshot: written
    ];
    const image = await images.writeImage(draft(true), late, { refs: [], base });
    await stage.release();
    expect(image.stats).toMatchObject({ pagesIn: 2, pagesWritten: 1, pagesDeduped: 1 });
    expect((await images.verify(image.id)).ok).toBe(true);
    const got = await contents(images, image.id);
    expect(got.get(1)).toBe(Buffer.from(page(1)).toString("hex"));
    expect(got.get(0)).toBe(Buffer.from(page(2)).toString("hex"));
  });
});

describe("PageStage bookkeeping", () => {
  it("keeps the latest content of each page across puts, forgets pages and objects", async () => {
    const images = createImageStore(createMemoryStore());
    const stage = createPageStage(images);
    await stage.put(
      ...batch([
        [2, 5, page(5)],
        [2, 1, page(1)],
        [3, 0, page(30)],
      ]),
      3,
    );
    // page 1 again, page 3 new, page 7 given twice in one batch (the later copy counts)
    await stage.put(
      ...batch([
        [2, 7, page(70)],
        [2, 1, page(11)],
        [2, 3, page(3)],
        [2, 7, page(71)],
      ]),
      4,
    );
    expect([...(stage.staged().get(2) ?? [])]).toEqual([1, 3, 5, 7]);
    stage.forget(2, 5);
    stage.forget(2, 9); // never staged: nothing happens
    stage.forget(3);
    const staged = stage.staged();
    expect([...(staged.get(2) ?? [])]).toEqual([1, 3, 7]);
    expect(staged.has(3)).toBe(false);

    const base = stage.base();
    const heap = base.manifest.objects.find((o) => o.id === 2)!;
    expect(Array.from(heap.pages.indexes)).toEqual([1, 3, 7]);
    const hashOf = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
    const hashes = [0, 1, 2].map((k) =>
      Buffer.from(heap.pages.hashes.subarray(k * 32, k * 32 + 32)).toString("hex"),
    );
    expect(hashes).toEqual([hashOf(page(11)), hashOf(page(3)), hashOf(page(71))]);
    // the packs count the three latest pages only (not replaced or forgotten ones)
    const live = base.layout.pagesInPack.reduce((n, c) => n + c, 0);
    expect(live).toBe(3);
    await stage.put(...batch([[2, 9, page(9)]]), 1); // after the snapshot: the base is unchanged
    expect(Array.from(heap.pages.indexes)).toEqual([1, 3, 7]);
    await stage.release();
  });
});
