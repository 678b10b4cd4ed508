import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFileStore } from "./file-store.ts";
import { TEMP_DIR } from "./file-store-layout.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "vkc-file-deferred-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

const temps = async () => (await readdir(join(root, TEMP_DIR))).length;

describe("file store: deferred durability", () => {
  it("a deferred value is invisible until published, then whole", async () => {
    const store = createFileStore({ root });
    const a = await store.putDeferred("packs/aa", chunks("hello ", "world"));
    const b = await store.putDeferred("packs/bb/cc", chunks("x"));
    expect(await store.has("packs/aa")).toBe(false);
    expect(await store.get("packs/bb/cc")).toBeUndefined();
    const listed: string[] = [];
    for await (const k of store.list("packs/")) listed.push(k);
    expect(listed).toEqual([]);
    await store.publishDeferred([a, b]);
    expect(new TextDecoder().decode(await store.get("packs/aa"))).toBe("hello world");
    expect(new TextDecoder().decode(await store.get("packs/bb/cc"))).toBe("x");
    expect(await temps()).toBe(0);
  });

  it("discarding removes the temporary files and publishes nothing", async () => {
    const store = createFileStore({ root, fsync: false });
    const a = await store.putDeferred("packs/aa", chunks("gone"));
    expect(await temps()).toBe(1);
    await store.discardDeferred([a]);
    expect(await temps()).toBe(0);
    expect(await store.has("packs/aa")).toBe(false);
    await expect(store.publishDeferred([a])).rejects.toThrow(/not a pending deferred value/);
  });
});

describe("file store: volatile writes (BlobStoreVolatile)", () => {
  it("puts and deletes visibly and atomically, with no sync of the value or its directory", async () => {
    const store = createFileStore({ root });
    const { FileHandle } = await import("node:fs/promises").then(async (fs) => {
      const fh = await fs.open(join(root, "probe"), "w");
      await fh.close();
      return { FileHandle: Object.getPrototypeOf(fh) as { sync: () => Promise<void> } };
    });
    // (a directory a put creates is still synced: a durable value may be put in it later)
    await store.put("writes/w0", new TextEncoder().encode("durable"));
    const sync = FileHandle.sync;
    let syncs = 0;
    FileHandle.sync = function (this: unknown) {
      syncs++;
      return sync.call(this);
    };
    try {
      await store.putVolatile("writes/w1", new TextEncoder().encode("one"));
      await store.putVolatile("writes/w1", new TextEncoder().encode("two"));
      expect(new TextDecoder().decode(await store.get("writes/w1"))).toBe("two");
      await store.deleteVolatile("writes/w1");
      await store.deleteVolatile("writes/missing"); // no error, as delete
      expect(await store.has("writes/w1")).toBe(false);
      expect(syncs).toBe(0);
      await store.put("refs/latest", new TextEncoder().encode("x")); // a durable put syncs
      expect(syncs).toBeGreaterThan(0);
    } finally {
      FileHandle.sync = sync;
    }
    expect(await temps()).toBe(0);
    await expect(store.putVolatile("../escape", new Uint8Array(1))).rejects.toThrow(/key/i);
  });
});
