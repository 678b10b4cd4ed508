import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { CREDS, newClient } from "./__fixtures__/s3-fixture.ts";
import { createS3Server } from "./server.ts";
import { createS3Store } from "./store-s3.ts";

/** A server on a directory: restarts lose nothing, and a killed server loses nothing committed. */

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "vkc-s3-persist-"));
  dirs.push(d);
  return d;
}

function value(i: number, size = 1000 + i * 37): Uint8Array {
  return new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
}

function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a).equals(b);
}

describe("directory persistence", () => {
  it("keeps buckets, objects, metadata and unfinished uploads across a restart", async () => {
    const dir = await tempDir();
    const first = await createS3Server({ dir, credentials: [CREDS], buckets: ["keep"] });
    const store = createS3Store({
      bucket: "keep",
      endpoint: first.url,
      credentials: CREDS,
      partSize: 5 * 1024 * 1024,
      env: {},
    });
    for (let i = 0; i < 20; i++) await store.put(`k/${i}`, value(i));
    const big = value(99, 11 * 1024 * 1024);
    await store.put("big", big);
    await store.delete("k/3");
    const client = newClient(first.url);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: "keep", Key: "pending" }),
    );
    await client.send(
      new UploadPartCommand({ Bucket: "keep", Key: "pending", UploadId, PartNumber: 1, Body: "part" }),
    );
    const uploadsBefore = (await store.client.send(new ListMultipartUploadsCommand({ Bucket: "keep" })))
      .Uploads?.length;
    client.destroy();
    await store.close();
    await first.close();

    const second = await createS3Server({ dir, credentials: [CREDS] });
    const again = createS3Store({ bucket: "keep", endpoint: second.url, credentials: CREDS, env: {} });
    for (let i = 0; i < 20; i++) {
      if (i === 3) expect(await again.has("k/3")).toBe(false);
      else expect(same(await again.get(`k/${i}`), value(i))).toBe(true);
    }
    expect(same(await again.get("big"), big)).toBe(true);
    const listed: string[] = [];
    for await (const k of again.list("")) listed.push(k);
    expect(listed).toHaveLength(20);
    const uploads = await again.client.send(new ListMultipartUploadsCommand({ Bucket: "keep" }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([UploadId]);
    expect(uploadsBefore).toBe(1);
    await again.close();
    await second.close();
  });

  it("loses nothing committed when the server process is killed mid-write", async () => {
    const dir = await tempDir();
    const script = fileURLToPath(new URL("./__fixtures__/crash-server.mts", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, dir, CREDS.accessKeyId, CREDS.secretAccessKey],
      {
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("exit", (code) => reject(new Error(`crash server exited early (${code})`)));
      });
      const store = createS3Store({
        bucket: "crash",
        endpoint: url,
        credentials: CREDS,
        maxAttempts: 1,
        env: {},
      });
      for (let i = 0; i < 30; i++) await store.put(`committed/${i}`, value(i, 20_000));
      // Writes in flight when the server dies: each must end up whole or absent.
      const inflight = Array.from({ length: 40 }, (_, i) =>
        store.put(`inflight/${i}`, value(100 + i, 200_000)).catch(() => undefined),
      );
      await new Promise((r) => setTimeout(r, 30));
      child.kill("SIGKILL");
      await Promise.all(inflight);
      await store.close();
    } finally {
      child.kill("SIGKILL");
    }

    const server = await createS3Server({ dir, credentials: [CREDS] });
    const store = createS3Store({ bucket: "crash", endpoint: server.url, credentials: CREDS, env: {} });
    for (let i = 0; i < 30; i++) expect(same(await store.get(`committed/${i}`), value(i, 20_000))).toBe(true);
    for (let i = 0; i < 40; i++) {
      const got = await store.get(`inflight/${i}`);
      if (got !== undefined) expect(same(got, value(100 + i, 200_000))).toBe(true);
    }
    expect(server.stats.internalErrors).toBe(0);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
    await store.close();
    await server.close();
  });
});
