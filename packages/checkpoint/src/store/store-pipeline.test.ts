import { describe, expect, it } from "vitest";
import { forwardingStore } from "../__fixtures__/forwarding-store.ts";
import type { BlobStore, DeferredPut } from "./blob-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { decodeMarker, MarkerHandle } from "./store-markers.ts";
import { PackUploader, type SealedPack } from "./store-pipeline.ts";

const MARKER = "writes/test";

function pack(n: number, onRelease?: () => void): SealedPack {
  const bytes = new Uint8Array(16).fill(n);
  return {
    id: n.toString(16).padStart(64, "0"),
    key: `packs/${n.toString(16).padStart(64, "0")}`,
    chunks: [bytes.subarray(0, 4), bytes.subarray(4)],
    size: 16,
    ...(onRelease === undefined ? {} : { release: onRelease }),
  };
}

/** A memory store that logs puts and checks, at each pack put, that the marker names the pack. */
function auditedStore(options: { failPut?: string } = {}) {
  const inner = createMemoryStore();
  const log: string[] = [];
  const unmarkedPuts: string[] = [];
  const check = async (key: string) => {
    if (!key.startsWith("packs/")) return;
    const marker = await inner.get(MARKER);
    if (marker === undefined || !decodeMarker(marker, MARKER).keys.includes(key)) unmarkedPuts.push(key);
  };
  const store: BlobStore = forwardingStore(inner, "audited:", {
    async put(key: string, data: Uint8Array) {
      await check(key);
      await new Promise((r) => setTimeout(r, 1));
      if (key === options.failPut) throw new Error(`cannot put ${key}`);
      log.push(key);
      await inner.put(key, data);
    },
  });
  return { store, inner, log, unmarkedPuts };
}

describe("PackUploader", () => {
  it("names every pack in the marker before putting it, one marker update per group", async () => {
    const { store, inner, log, unmarkedPuts } = auditedStore();
    const marker = new MarkerHandle(store, MARKER, () => 1);
    const uploader = new PackUploader(store, marker, { groupSize: 3 });
    for (let n = 1; n <= 10; n++) await uploader.submit(pack(n));
    await uploader.drain();
    expect(unmarkedPuts).toEqual([]);
    // one pack, then the group size: [1], [2,3,4], [5,6,7], [8,9,10] → 4 updates
    expect(log.filter((k) => k === MARKER)).toHaveLength(4);
    expect(log.filter((k) => k.startsWith("packs/")).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => pack(i + 1).key).sort(),
    );
    // a plain backend gets each pack's chunks joined into one value
    expect([...(await inner.get(pack(7).key))!]).toEqual(Array.from({ length: 16 }, () => 7));
    const named = decodeMarker((await inner.get(MARKER))!, MARKER).keys;
    expect([...named].sort()).toEqual(Array.from({ length: 10 }, (_, i) => pack(i + 1).key).sort());
  });

  it("bounds the packs it holds and releases each one after its put", async () => {
    const { store } = auditedStore();
    const marker = new MarkerHandle(store, MARKER, () => 1);
    const uploader = new PackUploader(store, marker, { groupSize: 2, groupsInFlight: 1 });
    let held = 0;
    let maxHeld = 0;
    for (let n = 1; n <= 12; n++) {
      held++;
      maxHeld = Math.max(maxHeld, held);
      await uploader.submit(pack(n, () => held--));
    }
    await uploader.drain();
    expect(held).toBe(0);
    // one group being written and one filling, plus the pack being submitted
    expect(maxHeld).toBeLessThanOrEqual(2 * 2 + 1);
  });

  it("stops at the first failure, reports it, and leaves nothing running", async () => {
    const { store, log } = auditedStore({ failPut: pack(3).key });
    const marker = new MarkerHandle(store, MARKER, () => 1);
    const uploader = new PackUploader(store, marker, { groupSize: 2, groupsInFlight: 2 });
    let caught: unknown;
    try {
      for (let n = 1; n <= 20; n++) await uploader.submit(pack(n));
      await uploader.drain();
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).message).toBe(`cannot put ${pack(3).key}`);
    await uploader.settle();
    const packsPut = log.filter((k) => k.startsWith("packs/")).length;
    expect(packsPut).toBeLessThan(20);
    await new Promise((r) => setTimeout(r, 20));
    expect(log.filter((k) => k.startsWith("packs/")).length).toBe(packsPut); // nothing after settle
  });

  it("with deferred durability, writes each pack at once and names them all just before publishing", async () => {
    const inner = createMemoryStore();
    const events: string[] = [];
    const unnamedAtPublish: string[] = [];
    const pending = new Map<DeferredPut, Uint8Array>();
    const store = forwardingStore(inner, "deferred:", {
      put: async (k, d) => {
        events.push(`put ${k}`);
        await inner.put(k, d);
      },
      async putDeferred(key, chunks) {
        const parts: Uint8Array[] = [];
        for await (const c of chunks) parts.push(c);
        await new Promise((r) => setTimeout(r, 1));
        const value = { key };
        pending.set(value, Buffer.concat(parts));
        events.push("write");
        return value;
      },
      async publishDeferred(values) {
        const named = decodeMarker((await inner.get(MARKER))!, MARKER).keys;
        for (const v of values) {
          if (!named.includes(v.key)) unnamedAtPublish.push(v.key);
          await inner.put(v.key, pending.get(v)!);
        }
        events.push(`publish ${values.length}`);
      },
      async discardDeferred(values) {
        for (const v of values) pending.delete(v);
      },
    });
    const uploader = new PackUploader(store, new MarkerHandle(store, MARKER, () => 1), {
      groupSize: 2,
      putsPerGroup: 2,
    });
    let held = 0;
    let maxHeld = 0;
    for (let n = 1; n <= 9; n++) {
      maxHeld = Math.max(maxHeld, ++held);
      await uploader.submit(pack(n, () => held--));
    }
    await uploader.drain();
    // nine writes and one marker update naming all nine (beside the last writes), then one
    // publish of all nine
    expect(events.filter((e) => e === "write")).toHaveLength(9);
    expect(events.filter((e) => e === `put ${MARKER}`)).toHaveLength(1);
    expect(events.indexOf(`put ${MARKER}`)).toBeGreaterThan(events.indexOf("write"));
    expect(events.at(-1)).toBe("publish 9");
    expect(unnamedAtPublish).toEqual([]);
    expect([...(await inner.get(pack(4).key))!]).toEqual(Array.from({ length: 16 }, () => 4));
    expect(held).toBe(0);
    expect(maxHeld).toBeLessThanOrEqual(2 + 1); // two puts in flight and the one being submitted
  });

  it("streams the chunks to a backend that has putStream", async () => {
    const blobs = createMemoryStore();
    const marker = new MarkerHandle(blobs, MARKER, () => 1);
    const uploader = new PackUploader(blobs, marker);
    await uploader.submit(pack(5));
    await uploader.drain();
    expect(blobs.stats.putStreams).toBe(1);
    expect([...(await blobs.get(pack(5).key))!]).toEqual(Array.from({ length: 16 }, () => 5));
  });
});
