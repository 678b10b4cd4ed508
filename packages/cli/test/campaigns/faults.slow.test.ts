import { createS3Server, createS3Store, type S3Faults, type S3Server } from "@vkc/backend-s3mock";
import { CheckpointError, createImageStore } from "@vkc/checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS } from "./campaign-stores.ts";
import { figure, readAllPages, SEED, sampleDraft, samplePages } from "./campaign-support.ts";

/**
 * Faults: the S3 server injects 500s, 503 SlowDown, latency, dropped connections and
 * truncated bodies. Image writes through the real SDK client either succeed (bounded retries)
 * or fail with a one-line typed error; no write ever commits a damaged image.
 */

let server: S3Server;
let n = 0;
beforeAll(async () => {
  server = await createS3Server({ credentials: [CAMPAIGN_CREDENTIALS], buckets: [CAMPAIGN_BUCKET] });
});
afterAll(() => server.close());

function storeOn(prefix: string) {
  return createS3Store({
    bucket: CAMPAIGN_BUCKET,
    prefix,
    endpoint: server.url,
    credentials: CAMPAIGN_CREDENTIALS,
    maxAttempts: 5,
  });
}

const IMAGES_PER_SETTING = 2;

/** Writes images under `faults`, then checks with faults off that every listed image is whole. */
async function campaign(
  name: string,
  faults: S3Faults,
): Promise<{
  ok: number;
  failed: number;
  faults: number;
  errors: string[];
  reads: number;
  readFailures: number;
}> {
  const prefix = `faults-${name.replace(/[^a-z0-9]+/gi, "-")}-${n++}`;
  const blobs = storeOn(prefix);
  const images = createImageStore(blobs, { packTargetBytes: 16 * 1024 });
  const before = server.stats.faults;
  const countBefore = before.error + before.slowDown + before.drop + before.truncate;
  server.setFaults({ seed: SEED + n, ...faults });
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  let reads = 0;
  let readFailures = 0;
  const written: string[] = [];
  try {
    for (let i = 0; i < IMAGES_PER_SETTING; i++) {
      try {
        written.push(
          (await images.writeImage(sampleDraft(n * 100 + i), samplePages(n * 100 + i), { refs: [] })).id,
        );
        ok++;
      } catch (error) {
        failed++;
        if (!CheckpointError.isInstance(error))
          throw new Error(`untyped failure under ${name}: ${String(error)}`);
        expect(error.message).not.toContain("\n");
        errors.push(error.message);
      }
    }
    // Reads under the same faults: each image reads back whole, or fails clearly.
    for (const id of written) {
      try {
        expect(await readAllPages(createImageStore(storeOn(prefix)), id)).toBe(20);
        reads++;
      } catch (error) {
        if (!CheckpointError.isInstance(error))
          throw new Error(`untyped read failure under ${name}: ${String(error)}`);
        expect(error.message).not.toContain("\n");
        readFailures++;
      }
    }
  } finally {
    server.setFaults({});
  }
  const after = server.stats.faults;
  const injected = after.error + after.slowDown + after.drop + after.truncate - countBefore;
  const checker = createImageStore(storeOn(prefix));
  const listed = await checker.list();
  for (const id of written) expect(listed.map((l) => l.id)).toContain(id);
  for (const { id } of listed) {
    const report = await checker.verify(id);
    expect(report.ok, `${name}: image ${id} is damaged: ${JSON.stringify(report.problems)}`).toBe(true);
    expect(await readAllPages(checker, id)).toBe(20);
  }
  if (faults.errorRate === 1) expect(listed).toEqual([]);
  return { ok, failed, faults: injected, errors, reads, readFailures };
}

const SETTINGS: [number, string, S3Faults][] = [
  [0.1, "500 InternalError", { errorRate: 0.1 }],
  [0.1, "503 SlowDown", { slowDownRate: 0.1 }],
  [0.1, "dropped connections", { dropRate: 0.1 }],
  [0.1, "truncated bodies", { truncateRate: 0.1 }],
  [0.3, "500 InternalError", { errorRate: 0.3 }],
  [
    0.3,
    "all kinds with 5 ms latency",
    { errorRate: 0.075, slowDownRate: 0.075, dropRate: 0.075, truncateRate: 0.075, latencyMs: 5 },
  ],
];

describe.each(SETTINGS)("%s fault rate of %s", (rate, name, faults) => {
  it("writes succeed through retries or fail clearly, never damaged", async () => {
    const result = await campaign(`${name} ${rate}`, faults);
    figure(
      `faults/${rate * 100}% ${name}`,
      `${result.ok}/${IMAGES_PER_SETTING} images written, ${result.failed} failed clearly; ${result.reads} read back whole, ${result.readFailures} reads failed clearly; ${result.faults} faults injected, 0 damaged`,
    );
    // At 10% the SDK's retries (5 attempts) must carry every write and read.
    if (rate <= 0.1) {
      expect(result.failed, result.errors.join("; ")).toBe(0);
      expect(result.readFailures).toBe(0);
    }
  });
});

it("100% errors: a write fails with one clear line, commits nothing, and does not hang", async () => {
  const start = performance.now();
  const result = await campaign("total outage", { errorRate: 1 });
  const seconds = (performance.now() - start) / 1000;
  expect(result.ok).toBe(0);
  expect(result.failed).toBe(IMAGES_PER_SETTING);
  expect(result.errors[0]).toMatch(/InternalError/);
  figure(
    "faults/100% errors",
    `${result.failed}/${IMAGES_PER_SETTING} writes failed clearly in ${seconds.toFixed(1)} s: ${result.errors[0]}`,
  );
});

it("100% truncated reads: reading an image fails clearly rather than returning short pages", async () => {
  const blobs = storeOn(`faults-read-${n++}`);
  const images = createImageStore(blobs, { packTargetBytes: 16 * 1024 });
  const { id } = await images.writeImage(sampleDraft(1), samplePages(1), { refs: [] });
  server.setFaults({ seed: SEED, truncateRate: 1, operations: ["GetObject"] });
  let refused: unknown;
  try {
    await readAllPages(createImageStore(storeOn(blobs.prefix ?? "")), id);
  } catch (error) {
    refused = error;
  } finally {
    server.setFaults({});
  }
  expect(CheckpointError.isInstance(refused), String(refused)).toBe(true);
  expect((refused as Error).message).not.toContain("\n");
  figure("faults/100% truncated GETs", `read refused: ${(refused as Error).message}`);
});
