import { describe, expect, it } from "vitest";
import { forwardingStore } from "../__fixtures__/forwarding-store.ts";
import type { BlobStore, BlobStoreVolatile } from "./blob-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { MarkerHandle } from "./store-markers.ts";

/** A memory store with volatile writes that records which kind each write was. */
function recording(): { store: BlobStore & BlobStoreVolatile; calls: string[] } {
  const inner = createMemoryStore();
  const calls: string[] = [];
  const store = forwardingStore(inner, "recording:", {
    put: async (key, data) => {
      calls.push(`put ${key}`);
      await inner.put(key, data);
    },
    delete: async (key) => {
      calls.push(`delete ${key}`);
      await inner.delete(key);
    },
    putVolatile: async (key, data) => {
      calls.push(`putVolatile ${key}`);
      await inner.put(key, data);
    },
    deleteVolatile: async (key) => {
      calls.push(`deleteVolatile ${key}`);
      await inner.delete(key);
    },
  });
  return { store, calls };
}

describe("write markers", () => {
  it("are stored and removed with volatile writes when the backend has them", async () => {
    const { store, calls } = recording();
    const marker = new MarkerHandle(store, "writes/t1", () => 1000);
    expect(await marker.add(["packs/a", "packs/b"])).toEqual([]);
    expect(await store.has("writes/t1")).toBe(true); // visible at once
    await marker.add(["packs/c"]);
    await marker.release();
    expect(await store.has("writes/t1")).toBe(false);
    expect(calls).toEqual(["putVolatile writes/t1", "putVolatile writes/t1", "deleteVolatile writes/t1"]);
  });

  it("use plain puts and deletes on a backend without them", async () => {
    const store = createMemoryStore();
    const marker = new MarkerHandle(store, "writes/t2", () => 1000);
    await marker.add(["packs/a"]);
    expect(await store.has("writes/t2")).toBe(true);
    await marker.release();
    expect(await store.has("writes/t2")).toBe(false);
  });
});
