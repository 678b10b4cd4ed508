import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytes, headersOf } from "./__fixtures__/test-requests.ts";
import { type EmbeddedS3, startEmbeddedS3 } from "./embedded.ts";

/**
 * Multi-chunk uploads (store-body.ts) and bodies hashed on the server's worker
 * (server-hash-worker.ts): sent without joining, checked end to end, resent whole on retries.
 */

const KiB = 1024;
let dir: string;
let s3: EmbeddedS3;

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

function joined(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vkc-s3-body-"));
  s3 = await startEmbeddedS3({ dir });
});
afterAll(async () => {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

describe("multi-chunk uploads", () => {
  it("sends a pack's chunks as they are, with a CRC32 and no Expect: 100-continue", async () => {
    const store = s3.store();
    const seen = headersOf(store);
    const parts = [bytes(300, 1), bytes(3000 * KiB, 2), bytes(7, 3)];
    await store.putStream("packs/one", chunks(...parts));
    const sent = seen.at(-1)!;
    expect(sent["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    expect(sent["content-length"]).toBe(String(joined(...parts).length));
    const crc = sent["x-amz-checksum-crc32"];
    expect(crc).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(sent.expect ?? sent.Expect).toBeUndefined();
    expect(Buffer.from((await store.get("packs/one"))!).equals(joined(...parts))).toBe(true);
    // the server checked the CRC32 and kept it: it answers with the same one
    const head = await store.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "packs/one", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumCRC32).toBe(crc);
    expect(head.ETag).toBe(
      `"${createHash("md5")
        .update(joined(...parts))
        .digest("hex")}"`,
    );
  });

  it("resends the whole body when a request is retried", async () => {
    const store = s3.store({ maxAttempts: 6 });
    s3.server.setFaults({ seed: 11, errorRate: 0.3, dropRate: 0.2, operations: ["PutObject"] });
    try {
      for (let i = 0; i < 12; i++) {
        await store.putStream(`retry/${i}`, chunks(bytes(100 + i, i), bytes(400 * KiB, i + 50)));
      }
    } finally {
      s3.server.setFaults({});
    }
    expect(s3.server.stats.faults.error + s3.server.stats.faults.drop).toBeGreaterThan(2);
    for (let i = 0; i < 12; i++) {
      const got = Buffer.from((await store.get(`retry/${i}`))!);
      expect(got.equals(joined(bytes(100 + i, i), bytes(400 * KiB, i + 50)))).toBe(true);
    }
  });

  it("sends the chunks without a checksum when checksums are off (WHEN_REQUIRED)", async () => {
    const store = s3.store({ checksums: "WHEN_REQUIRED" });
    const seen = headersOf(store);
    const parts = [bytes(50, 4), bytes(70 * KiB, 5)];
    await store.putStream("plain/v", chunks(...parts));
    expect(Object.keys(seen.at(-1)!).filter((h) => h.startsWith("x-amz-checksum-"))).toEqual([]);
    expect(seen.at(-1)?.["content-encoding"]).toBeUndefined();
    expect(Buffer.from((await store.get("plain/v"))!).equals(joined(...parts))).toBe(true);
  });

  it("joins the chunks when the payload is signed, and sends Expect only when asked", async () => {
    const store = s3.store({ unsignedPayload: false, expectContinue: 1024 });
    const seen = headersOf(store);
    await store.putStream("signed/v", chunks(bytes(10, 1), bytes(5000, 2)));
    expect(seen.at(-1)?.["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(seen.at(-1)?.Expect).toBe("100-continue");
    expect(Buffer.from((await store.get("signed/v"))!).equals(joined(bytes(10, 1), bytes(5000, 2)))).toBe(
      true,
    );
  });
});

describe("large bodies hashed on the server's worker", () => {
  it("answers S3's ETag and refuses a wrong CRC32 or Content-MD5", async () => {
    const client = s3.store().client;
    const body = bytes(1024 * KiB, 9);
    const md5 = createHash("md5").update(body).digest();
    const put = await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "big/ok",
        Body: body,
        ContentMD5: md5.toString("base64"),
      }),
    );
    expect(put.ETag).toBe(`"${md5.toString("hex")}"`);
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: "big/crc", Body: body, ChecksumCRC32: "AAAAAA==" }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    await expect(
      client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: "big/md5",
          Body: body,
          ContentMD5: Buffer.alloc(16).toString("base64"),
        }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    const store = s3.store();
    expect(await store.has("big/crc")).toBe(false);
    expect(await store.has("big/md5")).toBe(false);
  });

  it("hashes many bodies at once and keeps each one's bytes", async () => {
    const store = s3.store();
    const values = Array.from({ length: 8 }, (_, i) => bytes(300 * KiB + i, 100 + i));
    await Promise.all(values.map((v, i) => store.put(`many/${i}`, v)));
    for (const [i, v] of values.entries()) {
      expect(Buffer.from((await store.get(`many/${i}`))!).equals(Buffer.from(v))).toBe(true);
    }
  });
});
