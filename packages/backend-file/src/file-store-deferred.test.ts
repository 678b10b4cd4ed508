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
