import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import { encodeCanonical } from "../codec/codec-canonical.ts";
import { DEFAULT_LIMITS } from "../codec/codec-limits.ts";
import { encodeManifest } from "../codec/codec-manifest.ts";
import { PACK_PREFIX_BYTES } from "../codec/codec-pack.ts";
import { IntegrityError } from "../image-errors.ts";
import { createImageStore } from "./image-store.ts";
import { createMemoryStore } from "./memory-store.ts";
import { checkPack, wholePackHeader } from "./store-pack-check.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function keys(store: ReturnType<typeof createMemoryStore>, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.list(prefix)) out.push(k);
  return out;
}

/** Rewrite a 1.1 pack as the 1.0 pack vkc 0.1 wrote: minor 0, keyed by the hash of all its bytes. */
function asVersion10(bytes: Uint8Array): { id: string; bytes: Uint8Array } {
  const header = wholePackHeader(bytes, "pack", DEFAULT_LIMITS);
  const entries = header.entries.map((e) => [
    Buffer.from(e.hash, "hex"),
    e.offset - header.payloadStart,
    e.length,
  ]);
  const cbor = encodeCanonical({ format: "vkc-pack", version: { major: 1, minor: 0 }, entries });
  const prefix = new Uint8Array(PACK_PREFIX_BYTES);
  prefix.set([0x56, 0x4b, 0x43, 0x50]);
  new DataView(prefix.buffer).setUint32(4, cbor.length, false);
  const out = Buffer.concat([prefix, cbor, bytes.subarray(header.payloadStart)]);
  return { id: sha(out), bytes: new Uint8Array(out) };
}

describe("pack keys (FORMAT.md §5)", () => {
  it("keys a 1.1 pack by its head, which lists every payload's hash", async () => {
    const blobs = createMemoryStore();
    await createImageStore(blobs, { packTargetBytes: 8 * 4096 }).writeImage(sampleDraft(), samplePages());
    for (const key of await keys(blobs, "packs/")) {
      const bytes = (await blobs.get(key))!;
      const check = checkPack(key.slice(6), bytes, key, DEFAULT_LIMITS);
      expect(check.header.minor).toBe(1);
      expect(check).toMatchObject({ keyMatches: true, damaged: [] });
      expect(sha(bytes.subarray(0, check.header.payloadStart))).toBe(key.slice(6));
      bytes[bytes.length - 1]! ^= 1; // a payload byte: the head still matches, the page does not
      const damaged = checkPack(key.slice(6), bytes, key, DEFAULT_LIMITS);
      expect(damaged.keyMatches).toBe(true);
      expect(damaged.damaged).toHaveLength(1);
      bytes[PACK_PREFIX_BYTES + 40]! ^= 1; // a header byte (inside the first entry's hash)
      expect(checkPack(key.slice(6), bytes, key, DEFAULT_LIMITS).keyMatches).toBe(false);
    }
  });

  it("still reads, verifies and copies images whose packs are 1.0 (keyed by all their bytes)", async () => {
    const blobs = createMemoryStore();
    const writer = createImageStore(blobs, { packTargetBytes: 8 * 4096 });
    const { manifest } = await writer.writeImage(sampleDraft(), samplePages(), { refs: [] });
    const renamed = new Map<string, string>();
    for (const pack of manifest.packs) {
      const old = asVersion10((await blobs.get(`packs/${pack}`))!);
      await blobs.delete(`packs/${pack}`);
      await blobs.put(`packs/${old.id}`, old.bytes);
      renamed.set(pack, old.id);
    }
    const packs = manifest.packs.map((p) => renamed.get(p)!).sort();
    const old = encodeManifest({ ...manifest, packs });
    await blobs.put(`manifests/${old.id}`, old.bytes);

    const reader = createImageStore(blobs);
    const pages = new Map<string, Uint8Array>();
    for await (const p of reader.readPages(old.id)) pages.set(`${p.objectId}/${p.pageIndex}`, p.bytes);
    expect(pages.size).toBe(52);
    expect(Buffer.from(pages.get("2/5")!).equals(Buffer.from(pageBytes(2, 5)))).toBe(true);
    expect(Buffer.from(await reader.readPage(old.id, 2, 6)).equals(Buffer.from(pageBytes(2, 6)))).toBe(true);
    expect(await reader.verify(old.id)).toMatchObject({ ok: true, problems: [] });
    const target = createMemoryStore();
    await reader.copy(old.id, createImageStore(target));
    expect((await createImageStore(target).verify()).ok).toBe(true);

    // a flipped payload byte in a 1.0 pack breaks its whole-pack hash
    const victim = `packs/${packs[0]}`;
    const bytes = (await blobs.get(victim))!;
    bytes[bytes.length - 1]! ^= 1;
    await blobs.put(victim, bytes);
    const drain = async () => {
      for await (const _ of createImageStore(blobs).readPages(old.id)) {
        // drain
      }
    };
    await expect(drain()).rejects.toThrow(IntegrityError);
    await expect(drain()).rejects.toThrow(/packs\/[0-9a-f]{64}: content does not match its hash/);
  });

  it("refuses a 1.1 pack whose header was altered, on ranged and whole reads", async () => {
    const blobs = createMemoryStore();
    const { id, manifest } = await createImageStore(blobs).writeImage(sampleDraft(), samplePages());
    const key = `packs/${manifest.packs[0]}`;
    const bytes = (await blobs.get(key))!;
    // swap the offsets' meaning: change the first entry's length byte (a 4096 → 4097 would be
    // caught by the size check; flip a hash byte instead, which only the head hash can catch)
    bytes[PACK_PREFIX_BYTES + 40]! ^= 1;
    await blobs.put(key, bytes);
    const fresh = createImageStore(blobs);
    await expect(fresh.readPage(id, 2, 0)).rejects.toThrow(IntegrityError);
    const drain = async () => {
      for await (const _ of createImageStore(blobs).readPages(id)) {
        // drain
      }
    };
    await expect(drain()).rejects.toThrow(/content does not match its hash/);
    const report = await createImageStore(blobs).verify(id);
    expect(report.problems.some((p) => p.object === key && /does not match its hash/.test(p.problem))).toBe(
      true,
    );
  });
});
