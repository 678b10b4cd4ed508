import { createHash } from "node:crypto";
import { createS3Server, type S3Server } from "@vkc/backend-s3mock";
import { type BlobStore, CheckpointError, type ImageStore, type PageMap, pageHashAt } from "@vkc/checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, vkc } from "./campaign-cli.ts";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS, openSpec } from "./campaign-stores.ts";
import {
  cleanupDirs,
  createImageStore,
  figure,
  listKeys,
  prng,
  SEED,
  sampleDraft,
  samplePages,
  tempDir,
} from "./campaign-support.ts";

/**
 * Damage: flipped bits, truncation, swapped and missing packs and manifests, in a file store and
 * in the S3 server. `vkc images verify` must name the damaged object and every image it breaks,
 * and reading a broken image must refuse rather than return damaged pages.
 */

type Damage = "flip" | "truncate" | "swap" | "missing" | "flip-manifest" | "truncate-manifest";
const DAMAGES: readonly Damage[] = [
  "flip",
  "truncate",
  "swap",
  "missing",
  "flip-manifest",
  "truncate-manifest",
];
const TRIALS = 1;

let server: S3Server;
let caught = 0;
beforeAll(async () => {
  server = await createS3Server({ credentials: [CAMPAIGN_CREDENTIALS], buckets: [CAMPAIGN_BUCKET] });
  process.env.AWS_ACCESS_KEY_ID = CAMPAIGN_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = CAMPAIGN_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = "us-east-1";
});
afterAll(async () => {
  await server.close();
  await cleanupDirs();
  figure(
    "damage",
    `${caught} damaged stores caught by verify and by readPages (${DAMAGES.length} kinds x ${TRIALS} trials x 2 stores)`,
  );
});

interface Target {
  blobs: BlobStore;
  cli: string[];
}

async function fileTarget(): Promise<Target> {
  const dir = await tempDir("damage");
  return { blobs: await openSpec(`file:${dir}`), cli: ["--store", `file:${dir}`] };
}

let s3Count = 0;
async function s3Target(): Promise<Target> {
  const prefix = `damage${s3Count++}`;
  const { createS3Store } = await import("@vkc/backend-s3mock");
  const blobs = createS3Store({
    bucket: CAMPAIGN_BUCKET,
    prefix,
    endpoint: server.url,
    region: "us-east-1",
    credentials: CAMPAIGN_CREDENTIALS,
  });
  return { blobs, cli: ["--store", `s3://${CAMPAIGN_BUCKET}/${prefix}`, "--s3-endpoint", server.url] };
}

const flip = (bytes: Uint8Array, at: number): Uint8Array => {
  const out = bytes.slice();
  out[at % out.length] = (out[at % out.length] ?? 0) ^ (1 << (at % 8));
  return out;
};

/** Applies `damage` to one object chosen by `random`; returns its key. */
async function damage(
  blobs: BlobStore,
  kind: Damage,
  random: () => number,
): Promise<{ key: string; keys: string[] }> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const prefix = kind.endsWith("manifest") ? "manifests/" : "packs/";
  const keys = (await listKeys(blobs, prefix)).sort();
  const key = pick(keys);
  const bytes = await blobs.get(key);
  if (bytes === undefined) throw new Error(`${key} vanished`);
  if (kind === "flip" || kind === "flip-manifest")
    await blobs.put(key, flip(bytes, Math.floor(random() * bytes.length * 8) >> 3));
  else if (kind === "truncate" || kind === "truncate-manifest")
    await blobs.put(key, bytes.subarray(0, Math.floor(random() * bytes.length)));
  else if (kind === "missing") await blobs.delete(key);
  else {
    const other = pick(keys.filter((k) => k !== key));
    const otherBytes = await blobs.get(other);
    if (otherBytes === undefined) throw new Error(`${other} vanished`);
    await blobs.put(key, otherBytes);
    await blobs.put(other, bytes);
    return { key, keys: [key, other] };
  }
  return { key, keys: [key] };
}

/** readPages of `id` must throw a CheckpointError, and every page it yielded before must be whole. */
async function readRefuses(
  images: ImageStore,
  id: string,
  manifestKnown: Map<string, Map<number, PageMap>>,
): Promise<void> {
  let refused: unknown;
  const maps = manifestKnown.get(id);
  try {
    for await (const page of images.readPages(id)) {
      const map = maps?.get(page.objectId);
      const hash = createHash("sha256").update(page.bytes).digest("hex");
      if (map !== undefined && pageHashAt(map, page.pageIndex) !== hash)
        throw new Error(`readPages of ${id} returned a damaged page ${page.objectId}/${page.pageIndex}`);
    }
  } catch (error) {
    refused = error;
  }
  expect(refused, `readPages of broken image ${id} did not refuse`).toBeDefined();
  expect(CheckpointError.isInstance(refused), String(refused)).toBe(true);
  expect((refused as Error).message).not.toContain("\n");
}

describe.each([
  ["file", fileTarget],
  ["s3", s3Target],
] as const)("%s store", (_name, makeTarget) => {
  it.each(DAMAGES)("catches %s", async (kind) => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const random = prng(
        SEED ^ (trial * 7919) ^ (DAMAGES.indexOf(kind) * 104729) ^ (_name === "s3" ? 0x5e : 0),
      );
      const target = await makeTarget();
      const images = createImageStore(target.blobs, { packTargetBytes: 16 * 1024 });
      const base = (await images.writeImage(sampleDraft(trial), samplePages(trial), { refs: [] })).id;
      const child = (
        await images.writeImage(sampleDraft(trial + 1, base), samplePages(trial + 1), { refs: [] })
      ).id;
      const other = (await images.writeImage(sampleDraft(trial + 2), samplePages(trial + 2), { refs: [] }))
        .id;
      const maps = new Map<string, Map<number, PageMap>>();
      const users = new Map<string, string[]>();
      for (const id of [base, child, other]) {
        const m = await images.readManifest(id);
        maps.set(id, new Map(m.objects.map((o) => [o.id, o.pages])));
        for (const p of m.packs) users.set(`packs/${p}`, [...(users.get(`packs/${p}`) ?? []), id]);
        users.set(`manifests/${id}`, [id]);
      }
      const { keys } = await damage(target.blobs, kind, random);
      const broken = [...new Set(keys.flatMap((k) => users.get(k) ?? []))];
      const seed = `seed ${SEED}, trial ${trial}, damaged ${keys.join(" and ")}`;

      const run = await vkc(["images", "verify", "--json", ...target.cli]);
      expect(run.status, `${seed}: ${run.err}`).toBe(1);
      const problems = jsonLines(run.out).filter((e) => e.event === "problem");
      for (const key of keys) {
        const named = problems.filter((p) => String(p.object).includes(key.split("/")[1] ?? key));
        expect(named.length, `${seed}: verify does not name ${key}: ${run.out}`).toBeGreaterThan(0);
      }
      const namedImages = new Set(problems.flatMap((p) => p.images as string[]));
      for (const id of broken) {
        if (!kind.endsWith("manifest"))
          expect(namedImages.has(id), `${seed}: verify does not say ${id} is broken`).toBe(true);
        // A fresh image store: nothing cached from the writes above.
        await readRefuses(createImageStore(target.blobs), id, maps);
      }
      caught++;
      await target.blobs.close?.();
    }
  });
});
