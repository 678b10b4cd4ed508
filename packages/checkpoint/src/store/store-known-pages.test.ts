import { describe, expect, it } from "vitest";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import type { ManifestDraft, PageWrite } from "../model/model-manifest.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { livePacks } from "./store-page-layout.ts";

/** An incremental draft over `parent`: every object inherits its parent's pages. */
function over(parent: string): ManifestDraft {
  const base = sampleDraft({ parent });
  return { ...base, objects: base.objects.map((o) => ({ ...o, inheritFromParent: true })) };
}

const heap = (pageIndex: number, bytes: Uint8Array): PageWrite => ({ objectId: 2, pageIndex, bytes });

describe("dedup of an incremental image through the table of known pages", () => {
  // One page per pack, so which packs an image lists is exactly which contents it holds.
  const options = { packTargetBytes: 4096 };

  it("reuses only packs the parent lists, and writes what a cold writer writes", async () => {
    const blobs = createMemoryStore();
    const warm = createImageStore(blobs, options);
    const a = await warm.writeImage(sampleDraft(), samplePages());
    // b: heap page 0 changes, so the pack of its old content is no longer one of b's
    const b = await warm.writeImage(over(a.id), [heap(0, pageBytes(2, 0, 2))]);
    expect(b.manifest.packs.length).toBe(a.manifest.packs.length);

    // c over b: page 5 takes page 0's old content (in a's packs only: written again) and page 6
    // takes page 1's content (in b's packs: reused)
    const cPages = () => [heap(5, pageBytes(2, 0)), heap(6, pageBytes(2, 1))];
    const c = await warm.writeImage(over(b.id), cPages(), { refs: [] });
    expect(c.stats).toMatchObject({ pagesIn: 2, pagesWritten: 1, pagesDeduped: 1 });

    // a writer with nothing cached reads b's layout from its packs and decides the same
    const cold = await createImageStore(blobs, options).writeImage(over(b.id), cPages(), { refs: [] });
    expect(cold.id).toBe(c.id);
    expect(cold.stats).toMatchObject({ pagesWritten: 1, pagesDeduped: 1 });
    expect((await createImageStore(blobs).verify(c.id)).ok).toBe(true);
    const reader = createImageStore(blobs);
    expect(Buffer.from(await reader.readPage(c.id, 2, 5)).equals(Buffer.from(pageBytes(2, 0)))).toBe(true);
    expect(Buffer.from(await reader.readPage(c.id, 2, 0)).equals(Buffer.from(pageBytes(2, 0, 2)))).toBe(true);
  });

  it("is not misled by an unrelated image that shares contents with the parent", async () => {
    const blobs = createMemoryStore();
    const warm = createImageStore(blobs, options);
    const base = await warm.writeImage(sampleDraft(), samplePages());
    // another process, written between: same contents, so its own packs hold them too
    await warm.writeImage(
      sampleDraft({ created: { time: "2026-01-01T00:00:00.000Z", tool: "other" } }),
      samplePages(),
      {
        refs: [],
      },
    );
    const child = await warm.writeImage(over(base.id), [heap(5, pageBytes(2, 1))]);
    expect(child.stats).toMatchObject({ pagesWritten: 0, pagesDeduped: 1 });
    // every pack it lists is one of its parent's (page 5's old content left with its pack)
    expect(child.manifest.packs.filter((p) => !base.manifest.packs.includes(p))).toEqual([]);
    expect(child.manifest.packs).toHaveLength(base.manifest.packs.length - 1);
  });

  it("dedups along a chain of many incrementals as a cold writer does at each step", async () => {
    const blobs = createMemoryStore();
    const warm = createImageStore(blobs, options);
    let id = (await warm.writeImage(sampleDraft(), samplePages())).id;
    for (let step = 1; step <= 6; step++) {
      // each step rewrites one page with new content and copies the previous step's new content
      const pages = () => [
        heap(step, pageBytes(2, step, step + 1)),
        heap(step + 20, pageBytes(2, step - 1, step)),
      ];
      const cold = await createImageStore(blobs, options).writeImage(over(id), pages(), { refs: [] });
      const next = await warm.writeImage(over(id), pages());
      expect(next.id).toBe(cold.id);
      expect(next.stats.pagesDeduped).toBe(cold.stats.pagesDeduped);
      expect(next.stats).toMatchObject({ pagesWritten: 1, pagesDeduped: 1 });
      id = next.id;
    }
    expect((await createImageStore(blobs).verify(id)).ok).toBe(true);
  });
});

describe("a long chain of incrementals", () => {
  it("rewriting every page again and again, writes what a cold writer writes at each step", async () => {
    // Each step leaves most of the parent's packs out of use, so the cached layout drops them.
    const blobs = createMemoryStore();
    const warm = createImageStore(blobs, { packTargetBytes: 4 * 4096 });
    let id = (await warm.writeImage(sampleDraft(), samplePages())).id;
    for (let step = 2; step <= 5; step++) {
      const pages = () =>
        [...samplePages(64, () => step)].filter((p) => p.objectId === 2 && p.pageIndex % 3 !== 0);
      const cold = await createImageStore(blobs, { packTargetBytes: 4 * 4096 }).writeImage(
        over(id),
        pages(),
        {
          refs: [],
        },
      );
      const next = await warm.writeImage(over(id), pages());
      expect(next.id).toBe(cold.id);
      expect(next.manifest.packs).toEqual(cold.manifest.packs);
      id = next.id;
    }
    const report = await createImageStore(blobs).verify(id);
    expect(report.ok).toBe(true);
    const reader = createImageStore(blobs);
    expect(Buffer.from(await reader.readPage(id, 2, 1)).equals(Buffer.from(pageBytes(2, 1, 5)))).toBe(true);
    expect(Buffer.from(await reader.readPage(id, 2, 0)).equals(Buffer.from(pageBytes(2, 0, 1)))).toBe(true);
  });
});

describe("an incremental image over a parent this store did not write", () => {
  it("lays the parent out from its inPack hints, reading no pack header", async () => {
    const blobs = createMemoryStore();
    const parent = await createImageStore(blobs, { packTargetBytes: 4096 }).writeImage(
      sampleDraft(),
      samplePages(),
    );
    const cold = createImageStore(blobs, { packTargetBytes: 4096 });
    blobs.resetStats();
    const child = await cold.writeImage(over(parent.id), [
      heap(0, pageBytes(2, 0, 2)),
      heap(9, pageBytes(2, 1)),
    ]);
    expect(blobs.stats.getRanges).toBe(0);
    expect(child.stats).toMatchObject({ pagesWritten: 1, pagesDeduped: 1 });
    expect((await createImageStore(blobs).verify(child.id)).ok).toBe(true);
  });
});

describe("livePacks", () => {
  it("lists each pack in use once, sorted, whatever slots name it", () => {
    const [a, b, c] = ["a", "b", "c"].map((x) => x.repeat(64)) as [string, string, string];
    const layout = {
      packs: [c, a, b, c],
      slots: new Map([[1, Uint32Array.of(0, 3, 1)]]),
      pagesInPack: Uint32Array.of(1, 1, 0, 1),
    };
    expect(livePacks(layout)).toEqual([a, c]);
  });
});
