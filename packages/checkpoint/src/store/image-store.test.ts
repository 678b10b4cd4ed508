import { describe, expect, it } from "vitest";
import { forwardingStore } from "../__fixtures__/forwarding-store.ts";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import { encodeCanonical } from "../codec/codec-canonical.ts";
import { CheckpointError } from "../errors.ts";
import {
  AmbiguousRefError,
  IntegrityError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  ParentChainError,
  SignatureError,
} from "../image-errors.ts";
import type { PageWrite } from "../model/model-manifest.ts";
import type { BlobStore } from "./blob-store.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { walkParentChain } from "./store-chain.ts";

/** A memory store without the optional `putStream`, to cover the plain put path. */
function plainStore(): BlobStore {
  const inner = createMemoryStore();
  return forwardingStore(inner, "plain-memory:", {});
}

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.list(prefix)) out.push(k);
  return out;
}

async function rejects(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  message?: RegExp,
) {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(CheckpointError.isInstance(caught)).toBe(true);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
}

describe("image store: write and read", () => {
  for (const [name, make] of [
    ["streaming backend", () => createMemoryStore()],
    ["plain backend", plainStore],
  ] as const) {
    it(`writes an image and reads every page back (${name})`, async () => {
      const blobs = make();
      const store = createImageStore(blobs);
      const { id, stats, manifest } = await store.writeImage(sampleDraft(), samplePages());
      expect(stats.pagesIn).toBe(4 + 48);
      expect(stats.zeroPages).toBe(16);
      expect(stats.pagesWritten).toBe(52);
      expect(stats.packsWritten).toBe(1);
      expect(manifest.objects[1]!.pages.indexes).toHaveLength(48);
      expect(await store.resolve("latest")).toBe(id);
      expect(await keys(blobs, "writes/")).toEqual([]);

      const read = await store.readManifest(id);
      expect(read.integrity?.digest).toBe(id);
      expect(read.processes[0]!.lwps.map((l) => l.tid)).toEqual([100, 101]);
      for (const page of samplePages()) {
        const bytes = await store.readPage(id, page.objectId, page.pageIndex);
        expect(Buffer.from(bytes).equals(Buffer.from(page.bytes))).toBe(true);
      }
      // once the manifest and pack headers are cached, a page costs one request: a ranged get
      const before = { ...store.stats };
      await store.readPage(id, 2, 5);
      expect(store.stats.requests - before.requests).toBe(1);
      expect(store.stats.rangedGets - before.rangedGets).toBe(1);
    });
  }

  it("streams every page back pack by pack", async () => {
    const store = createImageStore(createMemoryStore(), { packTargetBytes: 16 * 4096 });
    const { id, stats } = await store.writeImage(sampleDraft(), samplePages());
    expect(stats.packsWritten).toBe(4);
    const seen = new Map<string, Uint8Array>();
    for await (const p of store.readPages(id)) seen.set(`${p.objectId}:${p.pageIndex}`, p.bytes);
    const expected = [...samplePages()].filter((p) => p.bytes.some((b) => b !== 0));
    expect(seen.size).toBe(expected.length);
    for (const p of expected)
      expect(Buffer.from(seen.get(`${p.objectId}:${p.pageIndex}`)!).equals(Buffer.from(p.bytes))).toBe(true);
  });

  it("dedups identical pages within an image", async () => {
    const store = createImageStore(createMemoryStore());
    const same = pageBytes(9, 9);
    const pages: PageWrite[] = Array.from({ length: 10 }, (_, i) => ({
      objectId: 2,
      pageIndex: i,
      bytes: same,
    }));
    const { stats } = await store.writeImage(sampleDraft(), pages);
    expect(stats.pagesWritten).toBe(1);
    expect(stats.pagesDeduped).toBe(9);
  });

  it("refuses bad page streams and leaves no marker behind", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const cases: [PageWrite[], RegExp][] = [
      [[{ objectId: 7, pageIndex: 0, bytes: new Uint8Array(4096) }], /object not in the draft/],
      [[{ objectId: 2, pageIndex: 64, bytes: pageBytes(2, 1) }], /outside the object's 64 pages/],
      [[{ objectId: 2, pageIndex: 1, bytes: new Uint8Array(10) }], /expected 4096 bytes, got 10/],
      [
        [
          { objectId: 2, pageIndex: 1, bytes: pageBytes(2, 1) },
          { objectId: 2, pageIndex: 1, bytes: pageBytes(2, 1) },
        ],
        /streamed twice/,
      ],
    ];
    for (const [pages, message] of cases)
      await rejects(store.writeImage(sampleDraft(), pages), InvalidArgumentError, message);
    expect(await keys(blobs, "writes/")).toEqual([]);
    expect(await keys(blobs, "manifests/")).toEqual([]);
  });

  it("stores embedded executables as blobs and refuses references to missing blobs", async () => {
    const store = createImageStore(createMemoryStore());
    const exe = new Uint8Array(5000).fill(0x13);
    const ref = await store.putBlob(exe);
    const draft = sampleDraft({
      executables: [{ path: "/bin/hello", sha256: ref.sha256, size: exe.length, embedded: ref }],
    });
    const { id } = await store.writeImage(draft, samplePages());
    const m = await store.readManifest(id);
    expect(Buffer.from(await store.readBlob(m.executables[0]!.embedded!)).equals(Buffer.from(exe))).toBe(
      true,
    );
    const missing = { sha256: "b".repeat(64), size: 1 };
    await rejects(
      store.writeImage(
        sampleDraft({ executables: [{ path: "/x", sha256: missing.sha256, size: 1, embedded: missing }] }),
        [],
      ),
      NotFoundError,
      /blobs\/bbbb.*not stored/,
    );
  });
});

describe("image store: incremental images", () => {
  const HEAP = 1000;
  const base = () => sampleDraft({}, HEAP);

  it("writes about 1% when 1% of pages changed", async () => {
    const store = createImageStore(createMemoryStore());
    const parent = await store.writeImage(base(), samplePages(HEAP));
    const changed = (i: number) => (i % 100 === 0 ? 2 : 1); // 10 of 1000 pages
    const child = await store.writeImage(
      sampleDraft({ parent: parent.id }, HEAP),
      samplePages(HEAP, changed),
    );
    expect(child.stats.pagesWritten).toBe(10);
    expect(child.stats.pagesDeduped).toBe(parent.stats.pagesIn - 10);
    const pageBytesParent = parent.stats.pagesWritten * 4096;
    expect(parent.stats.bytesWritten).toBeGreaterThan(pageBytesParent);
    // packs of 10 pages + manifest + marker + ref: within 1% of the parent's bytes plus the manifest
    expect(child.stats.bytesWritten - child.stats.manifestBytes * 1.1).toBeLessThan(
      0.015 * parent.stats.bytesWritten,
    );
    expect(child.stats.bytesWritten).toBeGreaterThan(10 * 4096);
    expect(child.manifest.parent).toBe(parent.id);
    for (const i of [0, 1, 100, 999]) {
      const bytes = await store.readPage(child.id, 2, i);
      expect(
        Buffer.from(bytes).equals(
          Buffer.from(i % 4 === 3 ? new Uint8Array(4096) : pageBytes(2, i, changed(i))),
        ),
      ).toBe(true);
    }
  });

  it("inherits unchanged pages from the parent when the kernel streams only dirty pages", async () => {
    const store = createImageStore(createMemoryStore());
    const parent = await store.writeImage(base(), samplePages(HEAP));
    const draft = sampleDraft({ parent: parent.id }, HEAP);
    const objects = draft.objects.map((o) => ({ ...o, inheritFromParent: true }));
    const dirty: PageWrite[] = [
      { objectId: 2, pageIndex: 5, bytes: pageBytes(2, 5, 3) },
      { objectId: 2, pageIndex: 6, bytes: new Uint8Array(4096) }, // now zero
      { objectId: 2, pageIndex: 7, bytes: pageBytes(2, 7, 3) }, // was zero
    ];
    const child = await store.writeImage({ ...draft, objects }, dirty);
    expect(child.stats.pagesWritten).toBe(2);
    const heap = child.manifest.objects[1]!.pages;
    expect(heap.indexes.length).toBe(parent.manifest.objects[1]!.pages.indexes.length); // -1 zeroed +1 new
    expect(Buffer.from(await store.readPage(child.id, 2, 5)).equals(Buffer.from(pageBytes(2, 5, 3)))).toBe(
      true,
    );
    expect((await store.readPage(child.id, 2, 6)).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(await store.readPage(child.id, 2, 8)).equals(Buffer.from(pageBytes(2, 8)))).toBe(true);
    expect((await store.verify(child.id)).ok).toBe(true);
  });
});

describe("image store: refs, list, remove", () => {
  it("resolves ids, refs and unique prefixes", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const { id } = await store.writeImage(sampleDraft(), samplePages(), { refs: ["first"] });
    expect(await store.resolve(id)).toBe(id);
    expect(await store.resolve("first")).toBe(id);
    expect(await store.resolve(id.slice(0, 8))).toBe(id);
    await rejects(store.resolve("nope"), NotFoundError);
    await rejects(store.resolve("0".repeat(64)), NotFoundError);
    await blobs.put(`manifests/abcd${"0".repeat(60)}`, new Uint8Array(1));
    await blobs.put(`manifests/abcd${"1".repeat(60)}`, new Uint8Array(1));
    await rejects(store.resolve("abcd"), AmbiguousRefError, /prefix matches 2 images/);
  });

  it("resolves REF^ to the parent and REF^^ to the grandparent", async () => {
    const store = createImageStore(createMemoryStore());
    const a = await store.writeImage(sampleDraft(), samplePages());
    const b = await store.writeImage(
      sampleDraft({ parent: a.id }),
      samplePages(64, () => 2),
    );
    const c = await store.writeImage(
      sampleDraft({ parent: b.id }),
      samplePages(64, () => 3),
    );
    expect(await store.resolve("latest")).toBe(c.id);
    expect(await store.resolve("latest^")).toBe(b.id);
    expect(await store.resolve(`${c.id.slice(0, 8)}^^`)).toBe(a.id);
    await rejects(store.resolve("latest^^^"), NotFoundError, /first image of its chain/);
  });

  it("tags, lists, untags and removes", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const a = await store.writeImage(sampleDraft(), samplePages());
    const b = await store.writeImage(
      sampleDraft({ parent: a.id, clock: { instructions: 5, ns: 5 } }),
      samplePages(64, () => 2),
    );
    await store.tag("v1", a.id);
    await rejects(store.tag("bad/name", a.id), InvalidArgumentError);
    const listing = await store.list();
    expect(listing.map((l) => l.id).sort()).toEqual([a.id, b.id].sort());
    const la = listing.find((l) => l.id === a.id)!;
    expect(la.refs).toEqual(["v1"]);
    expect(la.pages).toBe(52);
    expect(listing.find((l) => l.id === b.id)!).toMatchObject({ parent: a.id, refs: ["latest"] });
    await store.untag("v1");
    expect((await store.refs()).map((r) => r.name)).toEqual(["latest"]);
    const removed = await store.remove("latest");
    expect(removed).toEqual({ id: b.id, refs: ["latest"] });
    await rejects(store.readManifest(b.id), NotFoundError);
    expect((await store.readManifest(a.id)).integrity?.digest).toBe(a.id);
  });
});

describe("image store: integrity", () => {
  it("verify passes a healthy store and names damaged packs and the images they break", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs, { packTargetBytes: 8 * 4096 });
    const a = await store.writeImage(sampleDraft(), samplePages());
    const healthy = await store.verify();
    expect(healthy).toMatchObject({ ok: true, images: 1, pages: 52 });

    const packs = await keys(blobs, "packs/");
    const victim = packs[0]!;
    const bytes = (await blobs.get(victim))!;
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await blobs.put(victim, bytes);
    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.damagedImages).toEqual([a.id]);
    expect(
      report.problems.some((p) => p.object === victim && /does not match its hash/.test(p.problem)),
    ).toBe(true);
    expect(report.problems.some((p) => p.object.startsWith("page ") && p.images.includes(a.id))).toBe(true);

    await blobs.delete(packs[1]!);
    const again = await store.verify(a.id);
    expect(again.problems.some((p) => p.object === packs[1] && p.problem === "missing")).toBe(true);
  });

  it("reads refuse a page whose bytes do not match its hash, naming it", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const { id } = await store.writeImage(sampleDraft(), samplePages());
    const [pack] = await keys(blobs, "packs/");
    const bytes = (await blobs.get(pack!))!;
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 1; // inside the last page of the heap
    await blobs.put(pack!, bytes);
    const fresh = createImageStore(blobs);
    await rejects(
      fresh.readPage(id, 2, 62),
      IntegrityError,
      /^page [0-9a-f]{12} in packs\/[0-9a-f]{64}: content does not match its hash$/,
    );
    await rejects(
      (async () => {
        for await (const _ of fresh.readPages(id)) {
          // drain
        }
      })(),
      IntegrityError,
      /packs\/[0-9a-f]{64}: content does not match its hash/,
    );
  });

  it("verify reports a damaged manifest and a dangling ref", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const { id } = await store.writeImage(sampleDraft(), samplePages());
    await blobs.put(
      `manifests/${id}`,
      encodeCanonical({ format: "vkc-image", version: { major: 1, minor: 0 } }),
    );
    await blobs.put("refs/ghost", new TextEncoder().encode(`${"c".repeat(64)}\n`));
    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.problems.find((p) => p.object === `manifests/${id}`)?.problem).toMatch(
      /envelope.manifest: missing/,
    );
    expect(report.problems.find((p) => p.object === "refs/ghost")?.problem).toMatch(
      /points at missing image cccccccccccc/,
    );
    expect((await store.list())[0]!.damaged).toMatch(/missing/);
  });

  it("verify of one image also names a damaged ancestor manifest", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const a = await store.writeImage(sampleDraft(), samplePages());
    const b = await store.writeImage(
      sampleDraft({ parent: a.id }),
      samplePages(64, () => 2),
    );
    // The parent's manifest replaced by another valid manifest: its digest no longer matches its key.
    await blobs.put(`manifests/${a.id}`, (await blobs.get(`manifests/${b.id}`))!);
    const report = await createImageStore(blobs).verify(b.id); // a reader with no cached manifests
    expect(report.ok).toBe(false);
    const damaged = report.problems.find((p) => p.object === `manifests/${a.id}`);
    expect(damaged?.images).toEqual([a.id]);
  });

  it("refuses a pack header declaring an absurd length", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const { id } = await store.writeImage(sampleDraft(), samplePages());
    const [pack] = await keys(blobs, "packs/");
    const bytes = (await blobs.get(pack!))!;
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 0xfffffff0, false);
    await blobs.put(pack!, bytes);
    await rejects(
      createImageStore(blobs).readPage(id, 2, 0),
      LimitExceededError,
      /pack header of 4294967280 bytes/,
    );
  });

  it("signs manifests and refuses unsigned or foreign ones when it holds a key", async () => {
    const blobs = createMemoryStore();
    const signed = createImageStore(blobs, { signKey: "k1" });
    const { id } = await signed.writeImage(sampleDraft(), samplePages());
    expect((await signed.readManifest(id)).integrity?.signature).toMatch(/^[0-9a-f]{64}$/);
    expect((await createImageStore(blobs).readManifest(id)).processes).toHaveLength(1);
    await rejects(
      createImageStore(blobs, { signKey: "k2" }).readManifest(id),
      SignatureError,
      /signature does not match/,
    );
    const other = createMemoryStore();
    const unsigned = await createImageStore(other).writeImage(sampleDraft(), samplePages());
    await rejects(
      createImageStore(other, { signKey: "k1" }).readManifest(unsigned.id),
      SignatureError,
      /unsigned/,
    );
  });
});

describe("parent chains", () => {
  it("refuses loops and chains deeper than the limit", async () => {
    const loop: Record<string, string> = { a: "b", b: "c", c: "a" };
    await rejects(
      walkParentChain("a", async (id) => loop[id], 100),
      ParentChainError,
      /loops back to a/,
    );
    const line = async (id: string) => (Number(id) < 50 ? String(Number(id) + 1) : undefined);
    await rejects(walkParentChain("0", line, 10), ParentChainError, /deeper than 10/);
    expect((await walkParentChain("0", line, 100)).chain).toHaveLength(51);
    const missing = await walkParentChain("0", async (id) => (id === "0" ? "1" : null), 10);
    expect(missing).toEqual({ chain: ["0"], missing: "1" });
  });

  it("verify reports a chain deeper than the limit", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs, { limits: { maxChainDepth: 2 } });
    let parent: string | undefined;
    for (let i = 0; i < 3; i++) {
      const draft = sampleDraft(
        parent === undefined
          ? { clock: { instructions: i, ns: 0 } }
          : { parent, clock: { instructions: i, ns: 0 } },
      );
      parent = (await store.writeImage(draft, samplePages())).id;
    }
    const report = await store.verify(parent);
    expect(report.problems.map((p) => p.problem).join("\n")).toMatch(/parent chain deeper than 2/);
  });
});

describe("image store: gc", () => {
  it("condemns unreachable packs, then deletes them after the grace period", async () => {
    const blobs = createMemoryStore();
    let now = 1_000_000;
    const store = createImageStore(blobs, { now: () => now });
    const a = await store.writeImage(
      sampleDraft(),
      samplePages(64, () => 5),
    );
    const c = await store.writeImage(
      sampleDraft(),
      samplePages(64, () => 6),
    );
    const packsOfA = (await store.readManifest(a.id)).packs.map((p) => `packs/${p}`);
    await store.remove(a.id);

    const dry = await store.gc({ dryRun: true, graceMs: 1000 });
    expect(dry.unreachable.filter((k) => !packsOfA.includes(k))).toEqual([]);
    const first = await store.gc({ graceMs: 1000 });
    expect(first.deleted).toEqual([]);
    expect([...first.unreachable].sort()).toEqual(
      [...packsOfA.filter((k) => !c.manifest.packs.map((p) => `packs/${p}`).includes(k))].sort(),
    );
    now += 999;
    expect((await store.gc({ graceMs: 1000 })).deleted).toEqual([]);
    now += 1;
    const third = await store.gc({ graceMs: 1000 });
    expect([...third.deleted].sort()).toEqual([...first.unreachable].sort());
    expect(third.bytesFreed).toBeGreaterThan(0);
    for (const k of third.deleted) expect(await blobs.has(k)).toBe(false);
    expect((await store.verify()).ok).toBe(true);
  });

  it("never deletes what a concurrent writer needs, and loses nothing committed", async () => {
    const blobs = createMemoryStore();
    let now = 5_000_000;
    const store = createImageStore(blobs, { now: () => now, packTargetBytes: 8 * 4096 });
    const gcStore = createImageStore(blobs, { now: () => now });
    const parent = await store.writeImage(sampleDraft({}, 200), samplePages(200));
    const reports: string[][] = [];

    async function* slowPages(): AsyncIterable<PageWrite> {
      let n = 0;
      for (const page of samplePages(200, (i) => (i % 10 === 0 ? 2 : 1))) {
        yield page;
        if (++n % 40 === 0) {
          // between pack flushes: the parent disappears and gc runs twice, past the grace period
          if (n === 40) await gcStore.remove(parent.id);
          reports.push([...(await gcStore.gc({ graceMs: 10 })).deleted]);
          now += 100;
          reports.push([...(await gcStore.gc({ graceMs: 10 })).deleted]);
          now += 100;
        }
      }
    }
    const child = await store.writeImage(sampleDraft({ parent: parent.id }, 200), slowPages());
    expect(reports.flat()).toEqual([]);
    const fresh = createImageStore(blobs);
    expect((await fresh.verify(child.id)).ok).toBe(true);
    for (const page of samplePages(200, (i) => (i % 10 === 0 ? 2 : 1))) {
      const bytes = await fresh.readPage(child.id, page.objectId, page.pageIndex);
      expect(Buffer.from(bytes).equals(Buffer.from(page.bytes))).toBe(true);
    }
    // with the writer gone, gc still keeps everything the committed child needs
    now += 1000;
    await gcStore.gc({ graceMs: 10 });
    now += 1000;
    await gcStore.gc({ graceMs: 10 });
    expect((await createImageStore(blobs).verify()).ok).toBe(true);
  });

  it("ignores markers of dead writers once they expire", async () => {
    const blobs = createMemoryStore();
    let now = 0;
    const store = createImageStore(blobs, { now: () => now });
    await blobs.put(`packs/${"d".repeat(64)}`, new Uint8Array(3));
    await blobs.put(
      "writes/dead",
      encodeCanonical({ format: "vkc-write-marker", updated: 0, keys: [`packs/${"d".repeat(64)}`] }),
    );
    expect((await store.gc({ graceMs: 0 })).liveMarkers).toBe(1);
    now = 25 * 3600 * 1000;
    const report = await store.gc({ graceMs: 0 });
    expect(report.expiredMarkers).toEqual(["writes/dead"]);
    expect(report.unreachable).toEqual([`packs/${"d".repeat(64)}`]);
    expect((await store.gc({ graceMs: 0 })).deleted).toEqual([`packs/${"d".repeat(64)}`]);
  });
});

describe("image store: copy", () => {
  it("copies an image with its ancestors, skipping what the target has", async () => {
    const source = createImageStore(createMemoryStore());
    const a = await source.writeImage(sampleDraft(), samplePages());
    const b = await source.writeImage(
      sampleDraft({ parent: a.id }),
      samplePages(64, (i) => (i === 0 ? 2 : 1)),
    );
    const targetBlobs = createMemoryStore();
    const target = createImageStore(targetBlobs);

    const first = await source.copy(a.id, target);
    expect(first.images).toEqual([a.id]);
    const second = await source.copy("latest", target);
    expect(second.images).toEqual([b.id]);
    expect(second.imagesSkipped).toEqual([a.id]);
    expect(second.packsSkipped).toBeGreaterThan(0);
    expect(await keys(targetBlobs, "writes/")).toEqual([]);
    expect((await target.verify()).ok).toBe(true);
    const page = await target.readPage(b.id, 2, 0);
    expect(Buffer.from(page).equals(Buffer.from(pageBytes(2, 0, 2)))).toBe(true);
    expect((await source.copy(b.id, target)).images).toEqual([]);
  });
});
