import { describe, expect, it } from "vitest";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import { IntegrityError, UnsupportedStoreError } from "../image-errors.ts";
import type { PageWrite } from "../model/model-manifest.ts";
import type { BlobStore } from "./blob-store.ts";
import { supportsSyncRead } from "./blob-store-sync.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { lazyPageReader } from "./store-lazy.ts";

const HEAP = 40;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const expected = (objectId: number, index: number): Uint8Array =>
  objectId === 2 && index % 4 === 3 ? new Uint8Array(4096) : pageBytes(objectId, index);

describe("lazyPageReader", () => {
  it("reads every page synchronously, zeros for pages not in the map", async () => {
    const mem = createMemoryStore();
    const store = createImageStore(mem, { packTargetBytes: 16 * 4096 });
    const { id } = await store.writeImage(sampleDraft({}, HEAP), samplePages(HEAP));
    const reader = await lazyPageReader(store, "latest");
    expect(reader.id).toBe(id);
    for (let i = 0; i < 4; i++) expect(same(reader.readPageSync(1, i), pageBytes(1, i))).toBe(true);
    for (let i = 0; i < HEAP; i++) expect(same(reader.readPageSync(2, i), expected(2, i))).toBe(true);
  });

  it("finds a page's pack from the page map's inPack hint: one header read, not a search", async () => {
    const mem = createMemoryStore();
    const store = createImageStore(mem, { packTargetBytes: 4096 }); // a pack per page
    const { manifest } = await store.writeImage(sampleDraft({}, HEAP), samplePages(HEAP));
    expect(manifest.packs.length).toBeGreaterThan(30);
    const reader = await lazyPageReader(createImageStore(mem), "latest");
    mem.resetStats();
    expect(same(reader.readPageSync(2, HEAP - 2), expected(2, HEAP - 2))).toBe(true);
    expect(mem.stats.getRanges).toBeLessThanOrEqual(2); // its pack's header, then the page
  });

  it("reads batches with one ranged get per pack, in the order asked", async () => {
    const mem = createMemoryStore();
    const store = createImageStore(mem, { packTargetBytes: 16 * 4096 });
    await store.writeImage(sampleDraft({}, HEAP), samplePages(HEAP));
    const reader = await lazyPageReader(store, "latest");
    const refs = Array.from({ length: HEAP }, (_, i) => ({ objectId: 2, pageIndex: HEAP - 1 - i }));
    await reader.readPagesAsync(refs); // reads the pack headers it needs, once
    mem.resetStats();
    const pages = await reader.readPagesAsync(refs);
    for (const [k, r] of refs.entries())
      expect(same(pages[k] as Uint8Array, expected(2, r.pageIndex))).toBe(true);
    expect(mem.stats.getRanges).toBeLessThanOrEqual(4); // 34 non-zero pages of 16-page packs
  });

  it("reads nothing per page up front; pack headers are read as lookups need them, once", async () => {
    const mem = createMemoryStore();
    const store = createImageStore(mem, { packTargetBytes: 16 * 4096 });
    const { manifest } = await store.writeImage(sampleDraft({}, 400), samplePages(400));
    expect(manifest.packs.length).toBeGreaterThan(15);
    mem.resetStats();
    const reader = await lazyPageReader(store, "latest");
    expect(mem.stats.getRanges).toBe(0);
    for (let i = 0; i < 400; i++) expect(same(reader.readPageSync(2, i), expected(2, i))).toBe(true);
    // One page read each (300 non-zero pages), plus each pack header once.
    expect(mem.stats.getRanges).toBe(300 + manifest.packs.length);
  });

  it("reads an incremental image's inherited pages from its parent's packs", async () => {
    const store = createImageStore(createMemoryStore());
    const parent = await store.writeImage(sampleDraft({}, HEAP), samplePages(HEAP));
    const draft = sampleDraft({ parent: parent.id }, HEAP);
    const objects = draft.objects.map((o) => ({ ...o, inheritFromParent: true }));
    const dirty: PageWrite[] = [{ objectId: 2, pageIndex: 5, bytes: pageBytes(2, 5, 3) }];
    const child = await store.writeImage({ ...draft, objects }, dirty);
    const reader = await lazyPageReader(store, child.id);
    expect(same(reader.readPageSync(2, 5), pageBytes(2, 5, 3))).toBe(true);
    expect(same(reader.readPageSync(2, 8), pageBytes(2, 8))).toBe(true);
  });

  it("refuses a damaged page, sync or async, and serves the others", async () => {
    const mem = createMemoryStore();
    const store = createImageStore(mem);
    await store.writeImage(sampleDraft({}, HEAP), samplePages(HEAP));
    const reader = await lazyPageReader(store, "latest");
    for await (const key of mem.list("packs/")) {
      const bytes = (await mem.get(key)) as Uint8Array;
      bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
      await mem.put(key, bytes);
    }
    let damaged = 0;
    for (let i = 0; i < HEAP; i++) {
      try {
        expect(same(reader.readPageSync(2, i), expected(2, i))).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(IntegrityError);
        expect((error as Error).message).toMatch(/content does not match its hash/);
        damaged++;
      }
    }
    expect(damaged).toBe(1);
    const all = Array.from({ length: HEAP }, (_, i) => ({ objectId: 2, pageIndex: i }));
    await expect(reader.readPagesAsync(all)).rejects.toBeInstanceOf(IntegrityError);
  });

  it("refuses a store that cannot read synchronously, in one line", async () => {
    const { getRangeSync: _dropped, ...rest } = createMemoryStore();
    const asyncOnly: BlobStore = rest;
    expect(supportsSyncRead(asyncOnly)).toBe(false);
    const store = createImageStore(asyncOnly);
    await store.writeImage(sampleDraft({}, 4), samplePages(4));
    const error = await lazyPageReader(store, "latest").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedStoreError);
    expect((error as Error).message).toBe(
      "memory:: cannot read synchronously, which a lazy restore needs (copy the image to a file store first)",
    );
  });
});
