import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createS3Server, createS3Store } from "@vkc/backend-s3mock";
import { CheckpointError, createImageStore } from "@vkc/checkpoint";
import { afterAll, expect, it } from "vitest";
import { isS3Error, type RawS3Request, send, sign } from "./campaign-s3-raw.ts";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS } from "./campaign-stores.ts";
import { cleanupDirs, figure, tempDir } from "./campaign-support.ts";

/**
 * Isolation (store part): keys that would leave the store — `..`, absolute paths, empty and
 * odd segments, symlinks planted in the store — are refused by the file store's API and by the
 * S3 server's directory backend; nothing outside their directory is read, written or deleted.
 */

afterAll(cleanupDirs);

const HOSTILE_KEYS = [
  "../escape",
  "a/../../escape",
  "/etc/passwd",
  "packs/../../escape",
  "",
  "a//b",
  "./a",
  "a/.",
  "..",
  "a\\..\\b",
  "a\0b",
  `${"x".repeat(300)}`,
  "packs/\u00e9",
];
let refusals = 0;

it("the file store refuses escaping keys in every operation", async () => {
  const outer = await tempDir("iso-file");
  const root = join(outer, "store");
  await mkdir(root);
  await writeFile(join(outer, "escape"), "outside");
  const store = createFileStore({ root, fsync: false });
  for (const key of HOSTILE_KEYS) {
    const ops: [string, () => Promise<unknown>][] = [
      ["put", () => store.put(key, new Uint8Array([1]))],
      ["putIfAbsent", () => store.putIfAbsent(key, new Uint8Array([1]))],
      ["get", () => store.get(key)],
      ["getRange", () => store.getRange(key, 0, 1)],
      ["has", () => store.has(key)],
      ["delete", () => store.delete(key)],
    ];
    for (const [op, run] of ops) {
      const error = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(CheckpointError.isInstance(error), `${op} ${JSON.stringify(key)} was not refused`).toBe(true);
      expect((error as Error).message).not.toContain("\n");
      refusals++;
    }
  }
  expect(await readFile(join(outer, "escape"), "utf8")).toBe("outside");
  expect((await readdir(outer)).sort()).toEqual(["escape", "store"]);
});

it("the file store does not follow symlinks planted in it out of its root", async () => {
  const outer = await tempDir("iso-link");
  const root = join(outer, "store");
  const secret = join(outer, "secret");
  await mkdir(join(root, `packs@`), { recursive: true });
  await mkdir(secret);
  await writeFile(join(secret, "key"), "secret bytes");
  await symlink(join(secret, "key"), join(root, "packs@", "value-link"));
  await symlink(secret, join(root, "manifests@"));
  const store = createFileStore({ root, fsync: false });
  const images = createImageStore(store);
  // A value that is a symlink: never read as the value.
  const viaValue = await store.get("packs/value-link").then(
    (v) => v,
    (e: unknown) => e,
  );
  if (viaValue instanceof Uint8Array) throw new Error("get followed a symlink out of the store");
  // A key directory that is a symlink out of the root: refused for reads, writes and listing.
  for (const run of [
    () => store.get("manifests/key"),
    () => store.put("manifests/new", new Uint8Array([1])),
    () => images.list(),
  ]) {
    const result = await run().then(
      (v) => v,
      (e: unknown) => e,
    );
    if (result instanceof Uint8Array) throw new Error("read through a symlinked directory");
    if (Array.isArray(result)) expect(result).toEqual([]);
    refusals++;
  }
  expect((await readdir(secret)).sort()).toEqual(["key"]);
  expect(await readFile(join(secret, "key"), "utf8")).toBe("secret bytes");
});

it("image refs and ids that look like paths are refused before reaching the store", async () => {
  const images = createImageStore(createFileStore({ root: await tempDir("iso-refs"), fsync: false }));
  for (const ref of ["../../etc/passwd", "/abs", "a/b", "..", "refs/../x"]) {
    const error = await images.readManifest(ref).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(CheckpointError.isInstance(error), ref).toBe(true);
    const tagged = await images.tag(ref, "deadbeef").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(CheckpointError.isInstance(tagged), `tag ${ref}`).toBe(true);
    refusals += 2;
  }
});

it("the S3 server's directory backend keeps every key, bucket and upload id inside its directory", async () => {
  const outer = await tempDir("iso-s3");
  const dir = join(outer, "server");
  await mkdir(join(outer, "victim"), { recursive: true });
  await writeFile(join(outer, "victim", "upload.json"), "{}");
  const server = await createS3Server({
    dir,
    credentials: [CAMPAIGN_CREDENTIALS],
    buckets: [CAMPAIGN_BUCKET],
  });
  const store = createS3Store({
    bucket: CAMPAIGN_BUCKET,
    endpoint: server.url,
    credentials: CAMPAIGN_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    const requests: RawS3Request[] = [];
    const body = new TextEncoder().encode("escaped");
    for (const key of [
      "../../../escape",
      "..%2F..%2F..%2Fescape",
      "%2E%2E/%2E%2E/escape",
      "/abs/escape",
      "a/../../../../escape",
    ]) {
      requests.push({ method: "PUT", path: `/${CAMPAIGN_BUCKET}/${key}`, query: {}, headers: {}, body });
    }
    for (const bucket of ["..", "%2E%2E", "..%2F..", "victim", "buckets"]) {
      requests.push({ method: "PUT", path: `/${bucket}`, query: {}, headers: {}, body: new Uint8Array() });
      requests.push({ method: "PUT", path: `/${bucket}/escape`, query: {}, headers: {}, body });
    }
    for (const uploadId of ["../../../victim", "..%2F..%2F..%2Fvictim", "../../../../victim"]) {
      requests.push({
        method: "DELETE",
        path: `/${CAMPAIGN_BUCKET}/k`,
        query: { uploadId },
        headers: {},
        body: new Uint8Array(),
      });
      requests.push({
        method: "PUT",
        path: `/${CAMPAIGN_BUCKET}/k`,
        query: { uploadId, partNumber: "1" },
        headers: {},
        body,
      });
      requests.push({
        method: "POST",
        path: `/${CAMPAIGN_BUCKET}/k`,
        query: { uploadId },
        headers: {},
        body: new TextEncoder().encode("<CompleteMultipartUpload/>"),
      });
    }
    for (const req of requests) {
      const res = await send(server.url, req, await sign(store, server.url, req));
      if (res === undefined) continue;
      expect(res.status, `${req.method} ${req.path}`).not.toBe(500);
      if (res.status >= 400) expect(isS3Error(res.body)).toBe(true);
      refusals++;
    }
    expect((await readdir(outer)).sort()).toEqual(["server", "victim"]);
    expect((await readdir(join(outer, "victim"))).sort()).toEqual(["upload.json"]);
    for (const name of await readdir(dir)) expect(["buckets", "tmp"]).toContain(name);
  } finally {
    await store.close?.();
    await server.close();
  }
  figure(
    "isolation",
    `${refusals} escaping operations refused or kept inside the store (file store API, image refs, S3 directory backend)`,
  );
});
