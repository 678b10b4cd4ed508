import { CheckpointError, StoreIOError } from "@vkc/checkpoint";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CREDS } from "./__fixtures__/s3-fixture.ts";
import { bytes } from "./__fixtures__/test-requests.ts";
import { S3ConfigError } from "./errors.ts";
import { createS3Server, type S3Server } from "./server.ts";
import { resolveS3Options } from "./store-config.ts";
import { createS3Store, type S3BlobStore } from "./store-s3.ts";

/** The S3 BlobStore against the s3mock server with faults injected: bounded retries, clear failures. */

const MiB = 1024 * 1024;
let server: S3Server;
let store: S3BlobStore;

/** Byte equality without vitest's element-by-element diff (slow on MiB-sized arrays). */
function expectSame(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual?.length).toBe(expected.length);
  expect(Buffer.from(actual as Uint8Array).equals(expected)).toBe(true);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  server = await createS3Server({ credentials: [CREDS], buckets: ["faults"] });
  store = createS3Store({
    bucket: "faults",
    endpoint: server.url,
    credentials: CREDS,
    maxAttempts: 4,
    partSize: 5 * MiB,
    env: {},
  });
});
afterAll(async () => {
  await store.close();
  await server.close();
});
beforeEach(() => server.setFaults({}));

describe("fault injection", () => {
  it("succeeds through bounded retries at a 10% error rate", async () => {
    server.setFaults({ seed: 1, errorRate: 0.1 });
    const before = server.stats.faults.error;
    for (let i = 0; i < 60; i++) await store.put(`ten/${i}`, bytes(1000 + i, i));
    for (let i = 0; i < 60; i++) expectSame(await store.get(`ten/${i}`), bytes(1000 + i, i));
    const listed: string[] = [];
    for await (const k of store.list("ten/")) listed.push(k);
    expect(listed).toHaveLength(60);
    expect(server.stats.faults.error - before).toBeGreaterThan(3);
  });

  it("succeeds through SlowDown (503) at a 20% rate", async () => {
    server.setFaults({ seed: 2, slowDownRate: 0.2 });
    const before = server.stats.faults.slowDown;
    for (let i = 0; i < 15; i++) await store.put(`slow/${i}`, bytes(10, i));
    expectSame(await store.get("slow/14"), bytes(10, 14));
    expect(server.stats.faults.slowDown - before).toBeGreaterThan(0);
  });

  it("fails with a clear one-line StoreIOError, after maxAttempts requests, at a 100% error rate", async () => {
    server.setFaults({ errorRate: 1 });
    const before = server.stats.requests;
    const err = await rejection(store.put("doomed/key", bytes(10, 1)));
    expect(err).toBeInstanceOf(StoreIOError);
    expect(CheckpointError.isInstance(err) && err.code).toBe("STORE_IO");
    const message = (err as Error).message;
    expect(message).toContain("s3://faults");
    expect(message).toContain("doomed/key");
    expect(message).toContain("InternalError");
    expect(message).not.toContain("\n");
    expect(server.stats.requests - before).toBe(4);
    expect(await rejection(store.get("doomed/key"))).toBeInstanceOf(StoreIOError);
  });

  it("detects truncated bodies and re-reads them", async () => {
    const value = bytes(200_000, 9);
    await store.put("trunc/v", value);
    server.setFaults({ truncateRate: 1, operations: ["GetObject"], maxFaults: 2 });
    expectSame(await store.get("trunc/v"), value);
    expect(server.stats.faults.truncate).toBeGreaterThanOrEqual(2);
    server.setFaults({ truncateRate: 1, operations: ["GetObject"] });
    const err = await rejection(store.get("trunc/v"));
    expect(err).toBeInstanceOf(StoreIOError);
    expect((err as Error).message).toMatch(/trunc\/v/);
  });

  it("survives dropped connections on reads and writes", async () => {
    server.setFaults({ seed: 5, dropRate: 0.2 });
    for (let i = 0; i < 20; i++) await store.put(`drop/${i}`, bytes(5000, i));
    for (let i = 0; i < 20; i++) expectSame(await store.get(`drop/${i}`), bytes(5000, i));
    expect(server.stats.faults.drop).toBeGreaterThan(0);
  });

  it("putIfAbsent reports true when its first response was lost after the write landed", async () => {
    server.setFaults({ dropRate: 1, operations: ["PutObject"], maxFaults: 1 });
    expect(await store.putIfAbsent("pia/lost", bytes(100, 1))).toBe(true);
    server.setFaults({});
    expect(await store.putIfAbsent("pia/lost", bytes(100, 2))).toBe(false);
    expectSame(await store.get("pia/lost"), bytes(100, 1));
  });

  it("multipart putIfAbsent reports true when CompleteMultipartUpload's response was lost", async () => {
    const big = bytes(6 * MiB, 3);
    server.setFaults({ dropRate: 1, operations: ["CompleteMultipartUpload"], maxFaults: 1 });
    expect(await store.putIfAbsent("pia/big", big)).toBe(true);
    server.setFaults({});
    expect(await store.putIfAbsent("pia/big", bytes(10, 1))).toBe(false);
    expect(await store.head("pia/big")).toEqual({ size: big.length });
  });

  it("retries uploads of parts at a 10% error rate and leaves no upload behind", async () => {
    server.setFaults({ seed: 3, errorRate: 0.1 });
    const big = bytes(16 * MiB + 3, 4);
    await store.put("mp/big", big);
    server.setFaults({});
    expectSame(await store.get("mp/big"), big);
    expectSame(await store.getRange("mp/big", 5 * MiB - 2, 4), big.subarray(5 * MiB - 2, 5 * MiB + 2));
    expect(server.stats.operations.UploadPart).toBeGreaterThanOrEqual(4);
  });

  it("aborts the multipart upload when a part keeps failing", async () => {
    server.setFaults({ errorRate: 1, operations: ["UploadPart"] });
    const err = await rejection(store.put("mp/fail", bytes(11 * MiB, 5)));
    expect(err).toBeInstanceOf(StoreIOError);
    server.setFaults({});
    expect(server.stats.operations.AbortMultipartUpload).toBeGreaterThan(0);
    expect(await store.has("mp/fail")).toBe(false);
  });

  it("does not hang on a stalled server: the request timeout ends it", async () => {
    const impatient = createS3Store({
      bucket: "faults",
      endpoint: server.url,
      credentials: CREDS,
      maxAttempts: 2,
      requestTimeoutMs: 200,
      env: {},
    });
    server.setFaults({ latencyMs: 2000, operations: ["HeadObject"] });
    const err = await rejection(impatient.head("slow/0"));
    expect(err).toBeInstanceOf(StoreIOError);
    await impatient.close();
  });

  it("still works with added latency", async () => {
    server.setFaults({ latencyMs: 20 });
    await store.put("lat/a", bytes(10, 1));
    expectSame(await store.get("lat/a"), bytes(10, 1));
  });
});

describe("errors and configuration", () => {
  it("names the bucket and the S3 code when the bucket does not exist", async () => {
    const lost = createS3Store({
      bucket: "no-such-bucket",
      endpoint: server.url,
      credentials: CREDS,
      env: {},
    });
    const err = await rejection(lost.get("k"));
    expect((err as Error).message).toMatch(
      /s3:\/\/no-such-bucket: get k failed: S3 NoSuchBucket \(HTTP 404\) in bucket no-such-bucket/,
    );
    await lost.close();
  });

  it("reports a wrong secret as SignatureDoesNotMatch", async () => {
    const wrong = createS3Store({
      bucket: "faults",
      endpoint: server.url,
      credentials: { ...CREDS, secretAccessKey: "wrong" },
      env: {},
    });
    expect(((await rejection(wrong.put("k", bytes(1, 1)))) as Error).message).toContain(
      "SignatureDoesNotMatch",
    );
    await wrong.close();
  });

  it("reads endpoint, region and credentials from the standard AWS variables", () => {
    const o = resolveS3Options({
      bucket: "b",
      prefix: "/images/",
      env: {
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
        AWS_ENDPOINT_URL: "http://ignored:1",
        AWS_REGION: "eu-central-1",
        AWS_ACCESS_KEY_ID: "id",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_SESSION_TOKEN: "token",
      },
    });
    expect(o).toMatchObject({
      endpoint: "http://127.0.0.1:9000",
      region: "eu-central-1",
      credentials: { accessKeyId: "id", secretAccessKey: "secret", sessionToken: "token" },
      forcePathStyle: true,
      prefix: "images",
    });
    const aws = resolveS3Options({ bucket: "b", env: {} });
    expect(aws).toMatchObject({
      endpoint: undefined,
      region: "us-east-1",
      credentials: undefined,
      forcePathStyle: false,
    });
    expect(resolveS3Options({ bucket: "b", env: { AWS_ENDPOINT_URL: "http://x:1" } }).endpoint).toBe(
      "http://x:1",
    );
  });

  it("refuses bad options with S3ConfigError", () => {
    expect(() => resolveS3Options({ bucket: "", env: {} })).toThrow(S3ConfigError);
    expect(() => resolveS3Options({ bucket: "b", partSize: 1024, env: {} })).toThrow(/partSize/);
    expect(() => resolveS3Options({ bucket: "b", endpoint: "ftp://x", env: {} })).toThrow(/endpoint/);
  });

  it("streams a value of several parts with putStream", async () => {
    const value = bytes(12 * MiB + 5, 8);
    async function* chunks() {
      for (let i = 0; i < value.length; i += 1_000_000) yield value.subarray(i, i + 1_000_000);
    }
    const before = server.stats.operations.UploadPart ?? 0;
    await store.putStream("stream/big", chunks());
    expect((server.stats.operations.UploadPart ?? 0) - before).toBe(3);
    expectSame(await store.get("stream/big"), value);
  });
});
