import { describe, expect, it } from "vitest";
import { forwardingStore } from "../__fixtures__/forwarding-store.ts";
import { sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import type { BlobStore, BlobStoreDeferred, DeferredPut } from "./blob-store.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";

/** A memory store with deferred durability: deferred values wait in a map until published. */
function deferredStore(events: string[]): BlobStore & BlobStoreDeferred {
  const inner = createMemoryStore();
  const pending = new Map<DeferredPut, Uint8Array>();
  return forwardingStore(inner, "deferred-memory:", {
    put: async (k: string, d: Uint8Array) => {
      events.push(`put ${k.split("/")[0]}`);
      await inner.put(k, d);
    },
    async putDeferred(key, chunks) {
      const parts: Uint8Array[] = [];
      for await (const c of chunks) parts.push(c);
      const value = { key };
      pending.set(value, Buffer.concat(parts));
      events.push("deferred");
      return value;
    },
    async publishDeferred(values) {
      for (const v of values) await inner.put(v.key, pending.get(v)!);
      for (const v of values) pending.delete(v);
      events.push(`published ${values.length}`);
    },
    async discardDeferred(values) {
      for (const v of values) pending.delete(v);
      events.push(`discarded ${values.length}`);
    },
  });
}

describe("pack uploads with deferred durability", () => {
  it("publishes every pack in one step, before the manifest is put", async () => {
    const events: string[] = [];
    const images = createImageStore(deferredStore(events), { packTargetBytes: 8 * 4096 });
    const result = await images.writeImage(sampleDraft({}, 64), samplePages(64));
    const packs = events.filter((e) => e === "deferred").length;
    expect(packs).toBe(result.manifest.packs.length);
    expect(packs).toBeGreaterThan(1);
    const at = events.indexOf(`published ${packs}`);
    expect(at).toBeGreaterThan(events.lastIndexOf("deferred"));
    expect(events.indexOf("put manifests")).toBeGreaterThan(at);
    expect((await images.verify(result.id)).ok).toBe(true);
  });

  it("discards the unpublished packs of a write that fails", async () => {
    const events: string[] = [];
    const images = createImageStore(deferredStore(events), { packTargetBytes: 8 * 4096 });
    function* failing() {
      let n = 0;
      for (const page of samplePages(64)) {
        if (++n === 40) throw new Error("source failed");
        yield page;
      }
    }
    await expect(images.writeImage(sampleDraft({}, 64), failing())).rejects.toThrow("source failed");
    expect(events.some((e) => e.startsWith("published"))).toBe(false);
    expect(events.filter((e) => e.startsWith("discarded")).length).toBe(1);
    expect(events).not.toContain("put manifests");
  });
});
