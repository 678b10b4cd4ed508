import { describe, expect, it } from "vitest";
import { sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import type { BlobStore } from "./blob-store.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { GC_DELETING } from "./store-keys.ts";
import { encodeIntent, GC_INTENT_TTL_MS } from "./store-markers.ts";

/** Resolvable promise. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A memory store whose requests can be paused: `pause(op, key)` blocks the next such request. */
function gatedStore(inner: BlobStore) {
  const gates: Array<{ op: string; prefix: string; reached: () => void; open: Promise<void> }> = [];
  const watchers: Array<(op: string, key: string, found: boolean) => void> = [];
  const gate = async (op: string, key: string) => {
    const i = gates.findIndex((g) => g.op === op && key.startsWith(g.prefix));
    if (i < 0) return;
    const [g] = gates.splice(i, 1);
    g!.reached();
    await g!.open;
  };
  const store: BlobStore = {
    specificationVersion: "v1",
    name: "gated-memory:",
    put: async (k, d) => {
      await gate("put", k);
      await inner.put(k, d);
    },
    putIfAbsent: async (k, d) => {
      await gate("put", k);
      return inner.putIfAbsent(k, d);
    },
    get: async (k) => {
      await gate("get", k);
      const v = await inner.get(k);
      for (const w of watchers) w("get", k, v !== undefined);
      return v;
    },
    getRange: (k, o, l) => inner.getRange(k, o, l),
    head: async (k) => {
      await gate("head", k);
      return inner.head(k);
    },
    has: (k) => inner.has(k),
    list: (p) => inner.list(p),
    delete: async (k) => {
      await gate("delete", k);
      await inner.delete(k);
    },
  };
  return {
    store,
    /** Block the next `op` on a key under `prefix`: `reached` when it arrives, goes on at `open()`. */
    pause(op: string, prefix: string) {
      const reached = deferred();
      const open = deferred();
      gates.push({ op, prefix, reached: reached.resolve, open: open.promise });
      return { reached: reached.promise, open: open.resolve };
    },
    /** Resolves when a request `op` on a key under `prefix` finds a value. */
    seen(op: string, prefix: string): Promise<void> {
      return new Promise((resolve) =>
        watchers.push((o, k, found) => {
          if (o === op && k.startsWith(prefix) && found) resolve();
        }),
      );
    },
  };
}

describe("gc against a writer that re-puts a condemned pack (FORMAT.md §7)", () => {
  it("a committed image keeps the pack gc was about to delete", async () => {
    const gated = gatedStore(createMemoryStore());
    const now = 1_000_000;
    const writer = createImageStore(gated.store, { now: () => now });
    const gcStore = createImageStore(gated.store, { now: () => now });

    // An image whose packs become garbage, condemned by a first gc run (grace 0).
    const old = await writer.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 7),
    );
    const pack = `packs/${old.manifest.packs[0]!}`;
    await writer.remove(old.id);
    expect((await gcStore.gc({ graceMs: 0 })).unreachable).toContain(pack);

    // The second run decides to delete it; pause it just before it does.
    const atDelete = gated.pause("head", pack);
    const run = gcStore.gc({ graceMs: 0 });
    await atDelete.reached;

    // Meanwhile a writer commits an identical image: the same pack, put again.
    const sawGc = gated.seen("get", GC_DELETING);
    const write = writer.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 7),
    );
    // Let gc go on once the writer has committed, or is waiting for gc to finish.
    await Promise.race([write, sawGc]);
    atDelete.open();
    await run;
    const again = await write;

    expect(again.manifest.packs).toContain(pack.slice("packs/".length));
    expect(await gated.store.has(pack)).toBe(true);
    const fresh = createImageStore(gated.store);
    expect((await fresh.verify(again.id)).ok).toBe(true);
    // later runs keep it too, and the gc intent is gone
    expect((await gcStore.gc({ graceMs: 0 })).deleted).toEqual([]);
    for await (const key of gated.store.list(GC_DELETING)) expect.fail(`gc left its intent ${key}`);
  });

  it("gc spares a condemned key a writer names after gc listed the markers", async () => {
    const gated = gatedStore(createMemoryStore());
    const now = 2_000_000;
    const writer = createImageStore(gated.store, { now: () => now });
    const gcStore = createImageStore(gated.store, { now: () => now });
    const old = await writer.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 9),
    );
    const pack = `packs/${old.manifest.packs[0]!}`;
    await writer.remove(old.id);
    await gcStore.gc({ graceMs: 0 });

    // Pause gc at its intent (after it chose what to delete, before it re-checks the markers).
    const atIntent = gated.pause("put", GC_DELETING);
    const run = gcStore.gc({ graceMs: 0 });
    await atIntent.reached;
    const again = await writer.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 9),
    );
    atIntent.open();
    const report = await run;
    expect(report.deleted).not.toContain(pack);
    expect((await createImageStore(gated.store).verify(again.id)).ok).toBe(true);
  });

  it("the intent of a dead gc run blocks no writer and is dropped by the next run", async () => {
    const blobs = createMemoryStore();
    let now = 3_000_000;
    const store = createImageStore(blobs, { now: () => now });
    const first = await store.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 3),
    );
    const pack = `packs/${first.manifest.packs[0]!}`;
    await store.remove(first.id);
    await blobs.put(`${GC_DELETING}dead`, encodeIntent({ started: now, keys: [pack] }));
    now += GC_INTENT_TTL_MS + 1;
    const again = await store.writeImage(
      sampleDraft({}, 16),
      samplePages(16, () => 3),
    );
    expect((await store.verify(again.id)).ok).toBe(true);
    await store.gc({ graceMs: 0 });
    expect(await blobs.has(`${GC_DELETING}dead`)).toBe(false);
  });
});
