import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBlobStore } from "@vkc/checkpoint/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CREDS } from "./__fixtures__/s3-fixture.ts";
import { createS3Server, type S3Server } from "./server.ts";
import { createS3Store } from "./store-s3.ts";

/** The shared BlobStore conformance suite, against the s3mock server in memory, on disk, and under faults. */

let memory: S3Server;
let onDisk: S3Server;
let faulty: S3Server;
let dir: string;
let bucketNo = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vkc-s3-conf-"));
  memory = await createS3Server({ credentials: [CREDS] });
  onDisk = await createS3Server({ credentials: [CREDS], dir });
  faulty = await createS3Server({
    credentials: [CREDS],
    faults: { seed: 7, errorRate: 0.05, slowDownRate: 0.03, dropRate: 0.02, truncateRate: 0.03 },
  });
});

afterAll(async () => {
  await Promise.all([memory.close(), onDisk.close(), faulty.close()]);
  await rm(dir, { recursive: true, force: true });
});

function factory(server: () => S3Server, extra: { prefix?: string; maxAttempts?: number } = {}) {
  return async () => {
    const bucket = `conf-${++bucketNo}`;
    await server().createBucket(bucket);
    const store = createS3Store({
      bucket,
      endpoint: server().url,
      credentials: CREDS,
      partSize: 5 * 1024 * 1024,
      env: {},
      ...extra,
    });
    return { store };
  };
}

testBlobStore({
  name: "s3 (memory server)",
  create: factory(() => memory),
  capabilities: { putStream: true },
});

testBlobStore({
  name: "s3 (directory server, with a key prefix)",
  create: factory(() => onDisk, { prefix: "some/prefix" }),
  capabilities: { putStream: true },
  largeObjectBytes: 11 * 1024 * 1024,
  manyKeys: 1050,
});

testBlobStore({
  name: "s3 (server injecting errors, SlowDown, drops and truncation)",
  create: factory(() => faulty, { maxAttempts: 10 }),
  capabilities: { putStream: true },
  largeObjectBytes: 11 * 1024 * 1024,
  manyKeys: 1050,
  additionalTests: () => {
    it("saw faults of every kind", () => {
      const f = faulty.stats.faults;
      expect(f.error).toBeGreaterThan(0);
      expect(f.slowDown).toBeGreaterThan(0);
      expect(f.drop).toBeGreaterThan(0);
      expect(f.truncate).toBeGreaterThan(0);
    });
  },
});
