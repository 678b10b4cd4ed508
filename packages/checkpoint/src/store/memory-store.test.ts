import { describe, expect, it } from "vitest";
import { testBlobStore } from "../testing.ts";
import { createMemoryStore } from "./memory-store.ts";

testBlobStore({
  name: "memory",
  create: async () => ({ store: createMemoryStore() }),
  capabilities: { putStream: true },
});

// Pagination: a small page size makes `list` cross page boundaries in the conformance tests too.
testBlobStore({
  name: "memory with 7-key list pages",
  create: async () => ({ store: createMemoryStore({ listPageSize: 7 }) }),
  capabilities: { putStream: true },
  largeObjectBytes: 1024 * 1024,
  manyKeys: 50,
});

describe("createMemoryStore", () => {
  it("counts requests and bytes", async () => {
    const store = createMemoryStore({ listPageSize: 2 });
    await store.put("a", new Uint8Array(10));
    await store.putIfAbsent("a", new Uint8Array(5));
    await store.putIfAbsent("b", new Uint8Array(3));
    await store.get("a");
    await store.getRange("a", 8, 100);
    await store.head("a");
    await store.has("c");
    await store.delete("c");
    await store.putStream(
      "c",
      (async function* () {
        yield new Uint8Array(4);
        yield new Uint8Array(6);
      })(),
    );
    const keys: string[] = [];
    for await (const key of store.list("")) keys.push(key);
    expect(keys).toEqual(["a", "b", "c"]);
    expect(store.stats).toEqual({
      requests: 11,
      puts: 1,
      putIfAbsents: 2,
      putStreams: 1,
      gets: 1,
      getRanges: 1,
      heads: 1,
      hases: 1,
      listPages: 2,
      deletes: 1,
      bytesWritten: 10 + 3 + 10,
      bytesRead: 10 + 2,
    });
    expect(store.size).toBe(3);
    store.resetStats();
    expect(store.stats.requests).toBe(0);
    expect(store.stats.bytesWritten).toBe(0);
  });

  it("does not count refused keys as requests", async () => {
    const store = createMemoryStore();
    await expect(store.put("../x", new Uint8Array(1))).rejects.toMatchObject({ code: "INVALID_KEY" });
    expect(store.stats.requests).toBe(0);
    expect(store.size).toBe(0);
  });

  it("names itself memory: unless told otherwise", () => {
    expect(createMemoryStore().name).toBe("memory:");
    expect(createMemoryStore({ name: "memory:scratch" }).name).toBe("memory:scratch");
  });

  it("rejects bad ranges and page sizes", async () => {
    const store = createMemoryStore();
    await store.put("k", new Uint8Array(4));
    await expect(store.getRange("k", -1, 2)).rejects.toThrow(RangeError);
    await expect(store.getRange("k", 0, 1.5)).rejects.toThrow(RangeError);
    expect(() => createMemoryStore({ listPageSize: 0 })).toThrow(RangeError);
  });
});
