import { describe, expect, it } from "vitest";
import { forwardingStore } from "../__fixtures__/forwarding-store.ts";
import type { BlobStore } from "./blob-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { decodeMarker, MarkerHandle } from "./store-markers.ts";
import { PackUploader, type SealedPack } from "./store-pipeline.ts";

/**
 * The pack uploader's marker updates off the critical path: a group's marker update (and gc
 * intent listing) goes up while the group before it is still being put, but its own puts wait
 * for that group, and no pack is put before the marker names it (FORMAT.md §7).
 */

const MARKER = "writes/marks";

function pack(n: number): SealedPack {
  const bytes = new Uint8Array(8).fill(n);
  return { id: n.toString(16).padStart(64, "0"), key: `packs/${n}`, chunks: [bytes], size: 8 };
}

/** A memory store whose pack puts wait for `release(key)`; logs events in order. */
function heldStore() {
  const inner = createMemoryStore();
  const events: string[] = [];
  const waiting = new Map<string, () => void>();
  const held = new Set<string>();
  const named = async (key: string) => {
    const marker = await inner.get(MARKER);
    return marker !== undefined && decodeMarker(marker, MARKER).keys.includes(key);
  };
  const store: BlobStore = forwardingStore(inner, "held:", {
    async put(key: string, data: Uint8Array) {
      if (key.startsWith("packs/")) {
        events.push(`${(await named(key)) ? "put" : "UNMARKED put"} ${key}`);
        if (held.has(key)) await new Promise<void>((resolve) => waiting.set(key, resolve));
        events.push(`done ${key}`);
      } else if (key === MARKER) {
        events.push(`mark ${[...decodeMarker(data, MARKER).keys].join(",")}`);
      }
      await inner.put(key, data);
    },
  });
  return {
    store,
    events,
    hold: (key: string) => held.add(key),
    release(key: string) {
      held.delete(key);
      waiting.get(key)?.();
    },
    isWaiting: (key: string) => waiting.has(key),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("PackUploader marker updates", () => {
  it("names the next group while the one before it is still being put", async () => {
    const s = heldStore();
    s.hold("packs/1");
    const uploader = new PackUploader(s.store, new MarkerHandle(s.store, MARKER, () => 1), { groupSize: 2 });
    await uploader.submit(pack(1)); // group [1]: marked, its put held
    await uploader.submit(pack(2));
    const third = uploader.submit(pack(3)); // group [2,3] is full: marked now, put later
    let returned = false;
    void third.then(() => {
      returned = true;
    });
    for (let i = 0; i < 50 && !s.events.includes("mark packs/1,packs/2,packs/3"); i++) await tick();
    expect(s.isWaiting("packs/1")).toBe(true);
    expect(s.events).toContain("mark packs/1,packs/2,packs/3");
    // its puts wait for group [1], and so does the caller (memory stays bounded)
    expect(s.events.filter((e) => e.startsWith("put packs/2") || e.startsWith("put packs/3"))).toEqual([]);
    expect(returned).toBe(false);
    s.release("packs/1");
    await third;
    await uploader.submit(pack(4));
    await uploader.drain();
    expect(s.events.filter((e) => e.startsWith("UNMARKED"))).toEqual([]);
    const done1 = s.events.indexOf("done packs/1");
    expect(s.events.indexOf("put packs/2")).toBeGreaterThan(done1);
    expect(s.events.indexOf("put packs/3")).toBeGreaterThan(done1);
    expect(s.events.filter((e) => e.startsWith("mark "))).toEqual([
      "mark packs/1",
      "mark packs/1,packs/2,packs/3",
      "mark packs/1,packs/2,packs/3,packs/4",
    ]);
  });

  it("puts nothing of a marked group once an earlier put failed", async () => {
    const s = heldStore();
    s.hold("packs/1");
    const failing: BlobStore = {
      ...s.store,
      async put(key, data) {
        await s.store.put(key, data);
        if (key === "packs/1") throw new Error("disk full");
      },
    };
    const uploader = new PackUploader(failing, new MarkerHandle(failing, MARKER, () => 1), { groupSize: 2 });
    await uploader.submit(pack(1));
    await uploader.submit(pack(2));
    const third = uploader.submit(pack(3)).catch((e: unknown) => e);
    for (let i = 0; i < 50 && !s.isWaiting("packs/1"); i++) await tick();
    s.release("packs/1");
    expect(((await third) as Error | undefined)?.message).toBe("disk full");
    await expect(uploader.drain()).rejects.toThrow("disk full");
    expect(s.events.filter((e) => e.includes("put packs/2") || e.includes("put packs/3"))).toEqual([]);
  });
});
