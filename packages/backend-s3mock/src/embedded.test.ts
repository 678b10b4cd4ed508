import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { headersOf } from "./__fixtures__/test-requests.ts";
import { serveS3Mock, startEmbeddedS3 } from "./embedded.ts";
import { S3ConfigError } from "./errors.ts";
import { createS3Store } from "./store-s3.ts";

describe("startEmbeddedS3", () => {
  it("starts on a loopback port with fresh credentials and a default bucket", async () => {
    const s3 = await startEmbeddedS3();
    expect(s3.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.bucket).toBe("vkc");
    expect(s3.credentials.accessKeyId).toMatch(/^VKC[0-9A-F]{16}$/);
    const store = s3.store({ prefix: "images" });
    expect(store.name).toBe("s3://vkc/images");
    await store.put("a/b", new Uint8Array([1, 2, 3]));
    expect(await store.get("a/b")).toEqual(new Uint8Array([1, 2, 3]));
    await s3.close();
    await s3.close();
  });

  it("uploads with UNSIGNED-PAYLOAD and a CRC32 checksum: no SHA-256 of the body on either side", async () => {
    const s3 = await startEmbeddedS3();
    const store = s3.store();
    const seen = headersOf(store);
    const data = new Uint8Array(1 << 20).fill(7);
    await store.put("big", data);
    expect(seen.at(-1)?.["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    expect(seen.at(-1)?.["x-amz-checksum-crc32"]).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(Buffer.from((await store.get("big"))!).equals(Buffer.from(data))).toBe(true);
    const signed = s3.store({ unsignedPayload: false });
    const signedSeen = headersOf(signed);
    await signed.put("small", new Uint8Array([1, 2, 3]));
    expect(signedSeen.at(-1)?.["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    await s3.close();
  });

  it("serves its own stores through a Unix socket, removed at close", async () => {
    if (process.platform === "win32") return;
    const s3 = await startEmbeddedS3();
    const socketPath = s3.server.socketPath as string;
    expect(socketPath).toMatch(/s3\.sock$/);
    // A store that names a port nobody listens on still gets through: it uses the socket.
    const viaSocket = createS3Store({
      bucket: s3.bucket,
      endpoint: "http://127.0.0.1:9",
      region: s3.region,
      credentials: s3.credentials,
      socketPath,
      maxAttempts: 1,
      unsignedPayload: true,
      env: {},
    });
    await viaSocket.put("over/socket", new Uint8Array([4, 5, 6]));
    expect(await s3.store().get("over/socket")).toEqual(new Uint8Array([4, 5, 6]));
    await viaSocket.close();
    await s3.close();
    expect(existsSync(socketPath)).toBe(false);
  });

  it("keeps data in a directory across restarts, with new credentials each time", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vkc-embedded-"));
    try {
      const first = await startEmbeddedS3({ dir });
      await first.store().put("kept", new Uint8Array([9]));
      await first.close();
      const second = await startEmbeddedS3({ dir });
      expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
      expect(await second.store().get("kept")).toEqual(new Uint8Array([9]));
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("serveS3Mock", () => {
  it("serves with the given credentials and creates the default bucket", async () => {
    const handle = await serveS3Mock({ accessKey: "AKIDCLI", secretKey: "cli-secret" });
    expect(handle.generatedCredentials).toBe(false);
    const store = createS3Store({
      bucket: "vkc",
      endpoint: handle.url,
      credentials: { accessKeyId: "AKIDCLI", secretAccessKey: "cli-secret" },
      env: {},
    });
    expect(await store.putIfAbsent("x", new Uint8Array([1]))).toBe(true);
    await store.close();
    await handle.close();
  });

  it("generates credentials when none are given, and refuses half a pair", async () => {
    const handle = await serveS3Mock();
    expect(handle.generatedCredentials).toBe(true);
    expect(handle.credentials.secretAccessKey.length).toBeGreaterThan(20);
    await handle.close();
    await expect(serveS3Mock({ accessKey: "only" })).rejects.toBeInstanceOf(S3ConfigError);
  });
});

describe("bucket names", () => {
  it("refuses an invalid default bucket name", async () => {
    await expect(startEmbeddedS3({ bucket: "Not_Valid" })).rejects.toThrow(/invalid bucket name/);
  });
});
