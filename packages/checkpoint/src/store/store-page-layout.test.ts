import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import { DEFAULT_LIMITS } from "../codec/codec-limits.ts";
import type { PageWrite } from "../model/model-manifest.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { HashTable } from "./store-hash-table.ts";
import { wholePackHeader } from "./store-pack-check.ts";

describe("HashTable", () => {
  it("maps 32-byte hashes to numbers, growing past its first size, and misses what it lacks", () => {
    const hashes = new Uint8Array(randomBytes(32 * 5000));
    const table = new HashTable(4);
    for (let k = 0; k < 5000; k++) table.set(hashes, k * 32, k);
    table.set(hashes, 0, 42); // replaces
    expect(table.size).toBe(5000);
    expect(table.get(hashes, 0)).toBe(42);
    for (let k = 1; k < 5000; k++) expect(table.get(hashes, k * 32)).toBe(k);
    expect(table.get(new Uint8Array(randomBytes(32)), 0)).toBe(-1);
  });
});

describe("incremental images from a cached layout", () => {
  const child = (): PageWrite[] => [
    { objectId: 2, pageIndex: 1, bytes: pageBytes(2, 1, 2) }, // changed
    { objectId: 2, pageIndex: 2, bytes: new Uint8Array(4096) }, // cleared
    { objectId: 2, pageIndex: 3, bytes: pageBytes(2, 40) }, // was zero; same content as page 40
    { objectId: 2, pageIndex: 9, bytes: pageBytes(2, 9) }, // unchanged content
    { objectId: 1, pageIndex: 0, bytes: pageBytes(2, 1, 2) }, // same as the new page 1
  ];
  const draft = (parent: string) => {
    const base = sampleDraft({ parent }, 48); // the heap shrinks from 64 to 48 pages
    return { ...base, objects: base.objects.map((o) => ({ ...o, inheritFromParent: true })) };
  };

  it("writes the same image as a store that reads the parent back, deduping the same pages", async () => {
    const blobs = createMemoryStore();
    const writer = createImageStore(blobs, { packTargetBytes: 8 * 4096 });
    const parent = await writer.writeImage(sampleDraft(), samplePages());
    const cached = await writer.writeImage(draft(parent.id), child(), { refs: [] });
    const cold = await createImageStore(blobs, { packTargetBytes: 8 * 4096 }).writeImage(
      draft(parent.id),
      child(),
      { refs: [] },
    );
    expect(cached.id).toBe(cold.id);
    expect(cached.stats).toMatchObject({ pagesIn: 4, pagesWritten: 1, pagesDeduped: 3, zeroPages: 1 });
    const heap = cached.manifest.objects.find((o) => o.id === 2)!;
    expect(heap.pages.indexes).not.toContain(2);
    expect(heap.pages.indexes.every((i) => i < 48)).toBe(true);
    expect((await createImageStore(blobs).verify(cached.id)).ok).toBe(true);
    const reader = createImageStore(blobs);
    expect(Buffer.from(await reader.readPage(cached.id, 2, 3)).equals(Buffer.from(pageBytes(2, 40)))).toBe(
      true,
    );
    expect(Buffer.from(await reader.readPage(cached.id, 1, 0)).equals(Buffer.from(pageBytes(2, 1, 2)))).toBe(
      true,
    );
    // every pack it lists holds at least one of its pages (verify checked the converse)
    const hashes = new Set(
      cached.manifest.objects.flatMap((o) =>
        Array.from(o.pages.indexes, (_, k) =>
          Buffer.from(o.pages.hashes.subarray(k * 32, k * 32 + 32)).toString("hex"),
        ),
      ),
    );
    for (const pack of cached.manifest.packs) {
      const header = wholePackHeader((await blobs.get(`packs/${pack}`))!, pack, DEFAULT_LIMITS);
      expect(header.entries.some((e) => hashes.has(e.hash))).toBe(true);
    }
  });
});
