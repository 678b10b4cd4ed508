import { createHash } from "node:crypto";
import {
  CheckpointError,
  createImageStore,
  createMemoryStore,
  decodeManifest,
  type MemoryStore,
} from "@vkc/checkpoint";
import { ElfError, GUEST_PROGRAMS, guestProgram, parseElf } from "@vkc/host-kernel";
import fc from "fast-check";
import { beforeAll, expect, it } from "vitest";
import { writeSampleImages } from "../../src/stores/__fixtures__/sample-images.ts";
import { openStore } from "../../src/stores/store-registry.ts";
import { applyMutation, DecodeMeter, MAX_HEAP_GROWTH, mutation } from "./campaign-mutate.ts";
import { figure, SEED, sampleDraft, samplePages } from "./campaign-support.ts";

/**
 * Fuzzing the image decoders (manifest envelope, manifest body, pack header and ranged page
 * reads) and the ELF loader with mutated real inputs: images written by the image store and
 * the shipped guest ELFs. Every input must decode or fail with a typed error, within 1 s, with
 * bounded heap growth.
 */

const KEY = "campaign-sign-key";
let manifests: Uint8Array[] = [];
let packStore: MemoryStore;
let packImage = "";
let packKeys: string[] = [];

beforeAll(async () => {
  // Rich manifests (threads, tty/pipe/file descriptors, a parent) from the CLI's sample images,
  // plus a signed one.
  await writeSampleImages("memory:fuzz-manifests");
  const rich = await openStore("memory:fuzz-manifests");
  for await (const key of rich.list("manifests/")) {
    const bytes = await rich.get(key);
    if (bytes !== undefined) manifests.push(bytes);
  }
  const signed = createImageStore(createMemoryStore(), { signKey: KEY });
  const { id } = await signed.writeImage(sampleDraft(1), samplePages(1));
  const signedBytes = await signed.blobStore.get(`manifests/${id}`);
  if (signedBytes !== undefined) manifests.push(signedBytes);
  manifests = manifests.filter((m) => m.length > 0);

  packStore = createMemoryStore();
  const images = createImageStore(packStore, { packTargetBytes: 16 * 1024 });
  packImage = (await images.writeImage(sampleDraft(2), samplePages(2))).id;
  for await (const key of packStore.list("packs/")) packKeys.push(key);
  packKeys = packKeys.sort();
});

function expectTyped(error: unknown, input: string): void {
  if (!CheckpointError.isInstance(error)) throw new Error(`untyped error for ${input}: ${String(error)}`);
  expect(error.message).not.toContain("\n");
}

/** The envelope with its `manifest` byte string replaced by `body` and `digest` recomputed. */
function rewrap(envelope: Uint8Array, body: Uint8Array): Uint8Array {
  const find = (needle: number[]): number => {
    outer: for (let i = 0; i + needle.length <= envelope.length; i++) {
      for (let k = 0; k < needle.length; k++) if (envelope[i + k] !== needle[k]) continue outer;
      return i;
    }
    throw new Error("envelope field not found");
  };
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const at = find([0x68, ...ascii("manifest")]) + 9;
  const info = (envelope[at] ?? 0) & 0x1f;
  const headLength = info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : 5;
  const view = new DataView(envelope.buffer, envelope.byteOffset);
  const oldLength =
    info < 24
      ? info
      : info === 24
        ? (envelope[at + 1] ?? 0)
        : info === 25
          ? view.getUint16(at + 1)
          : view.getUint32(at + 1);
  const tail = envelope.subarray(at + headLength + oldLength);
  const n = body.length;
  const head =
    n < 24
      ? [0x40 | n]
      : n < 0x100
        ? [0x58, n]
        : n < 0x10000
          ? [0x59, n >> 8, n & 0xff]
          : [0x5a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const out = Uint8Array.from([...envelope.subarray(0, at), ...head, ...body, ...tail]);
  out.set(createHash("sha256").update(body).digest(), find([0x66, ...ascii("digest"), 0x58, 0x20]) + 9);
  return out;
}

/** The body (inner CBOR) of an envelope. */
function bodyOf(envelope: Uint8Array): Uint8Array {
  const ascii = [0x68, ...[..."manifest"].map((c) => c.charCodeAt(0))];
  let i = 0;
  for (; i < envelope.length; i++) if (ascii.every((b, k) => envelope[i + k] === b)) break;
  const at = i + 9;
  const info = (envelope[at] ?? 0) & 0x1f;
  const view = new DataView(envelope.buffer, envelope.byteOffset);
  const [len, skip] =
    info < 24
      ? [info, 1]
      : info === 24
        ? [envelope[at + 1] ?? 0, 2]
        : info === 25
          ? [view.getUint16(at + 1), 3]
          : [view.getUint32(at + 1), 5];
  return envelope.slice(at + skip, at + skip + len);
}

it("manifest envelopes: mutated real manifests decode or fail typed", async () => {
  const meter = new DecodeMeter();
  await fc.assert(
    fc.asyncProperty(fc.nat(), mutation, fc.boolean(), async (which, m, withKey) => {
      const input = manifests[which % manifests.length] as Uint8Array;
      const bytes = applyMutation(input, m, 64);
      const result = await meter.measure(() => decodeManifest(bytes, withKey ? { verifyKey: KEY } : {}));
      if (!result.ok) expectTyped(result.error, `manifest ${which % manifests.length}`);
    }),
    { seed: SEED, numRuns: 1500 },
  );
  figure("fuzz/manifest-envelope", meter.summary());
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});

it("manifest bodies: mutated bodies in a valid envelope (digest recomputed) decode or fail typed", async () => {
  const meter = new DecodeMeter();
  const unsigned = manifests.slice(0, -1);
  const bodies = unsigned.map(bodyOf);
  // The rewrap is faithful: an unchanged body decodes to the same image.
  for (const [i, envelope] of unsigned.entries())
    expect(Buffer.from(rewrap(envelope, bodies[i] as Uint8Array)).equals(Buffer.from(envelope))).toBe(true);
  await fc.assert(
    fc.asyncProperty(fc.nat(), mutation, async (which, m) => {
      const k = which % unsigned.length;
      const bytes = rewrap(unsigned[k] as Uint8Array, applyMutation(bodies[k] as Uint8Array, m));
      const result = await meter.measure(() => decodeManifest(bytes));
      if (!result.ok) expectTyped(result.error, `manifest body ${k}`);
    }),
    { seed: SEED + 1, numRuns: 2000 },
  );
  figure("fuzz/manifest-body", meter.summary());
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});

it("packs: mutated real packs serve the right page or fail typed (ranged reads, no whole-pack hash)", async () => {
  const meter = new DecodeMeter();
  const images = createImageStore(packStore);
  const manifest = await images.readManifest(packImage);
  const wanted: [number, number, Uint8Array][] = [];
  for (const object of manifest.objects) {
    for (const index of object.pages.indexes)
      wanted.push([object.id, index, await images.readPage(packImage, object.id, index)]);
  }
  const originals = new Map<string, Uint8Array>();
  for (const key of packKeys) originals.set(key, (await packStore.get(key)) as Uint8Array);
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.nat(), mutation, async (whichPack, whichPage, m) => {
      const key = packKeys[whichPack % packKeys.length] as string;
      const original = originals.get(key) as Uint8Array;
      const headLength = 8 + new DataView(original.buffer, original.byteOffset).getUint32(4);
      await packStore.put(key, applyMutation(original, m, headLength));
      try {
        const [objectId, index, expected] = wanted[whichPage % wanted.length] as [number, number, Uint8Array];
        const reader = createImageStore(packStore);
        const result = await meter.measure(() => reader.readPage(packImage, objectId, index));
        if (result.ok) expect(result.value).toEqual(expected);
        else expectTyped(result.error, key);
      } finally {
        await packStore.put(key, original);
      }
    }),
    { seed: SEED + 2, numRuns: 200 },
  );
  figure("fuzz/pack", meter.summary());
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});

it("ELF: mutated shipped guest programs parse or fail with an ElfError", async () => {
  const meter = new DecodeMeter();
  const elves = GUEST_PROGRAMS.map((name) => guestProgram(name));
  await fc.assert(
    fc.asyncProperty(fc.nat(), mutation, async (which, m) => {
      const input = elves[which % elves.length] as Uint8Array;
      const bytes = applyMutation(input, m, 52 + 32 * 8);
      const result = await meter.measure(() => parseElf(bytes));
      if (!result.ok) {
        if (!(result.error instanceof ElfError))
          throw new Error(`untyped ELF error: ${String(result.error)}`);
        expect(result.error.message).not.toContain("\n");
      }
    }),
    { seed: SEED + 3, numRuns: 2000 },
  );
  figure("fuzz/elf", meter.summary());
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});
