import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BlobStore } from "@vkc/checkpoint";
import { testBlobStore } from "@vkc/checkpoint/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFileStore } from "./file-store.ts";
import { FileStoreIOError } from "./file-store-errors.ts";
import { MAX_SEGMENT_BYTES, TEMP_DIR } from "./file-store-layout.ts";

async function scratchStore(fsync: boolean) {
  const dir = await mkdtemp(join(tmpdir(), "vkc-file-store-"));
  return {
    store: createFileStore({ root: join(dir, "store"), fsync }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

testBlobStore({
  name: "file (fsync)",
  create: () => scratchStore(true),
  capabilities: { putStream: true },
});

testBlobStore({
  name: "file (no fsync)",
  create: () => scratchStore(false),
  capabilities: { putStream: true },
  largeObjectBytes: 2 * 1024 * 1024,
});

describe("createFileStore", () => {
  let dir: string;
  let root: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vkc-file-unit-"));
    root = join(dir, "store");
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = (fsync = false) => createFileStore({ root, fsync });
  const bytes = (text: string) => new TextEncoder().encode(text);

  async function listAll(store: BlobStore, prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of store.list(prefix)) keys.push(key);
    return keys;
  }

  async function failure(call: () => Promise<unknown>): Promise<{ code?: unknown; message: string }> {
    try {
      await call();
    } catch (error) {
      return error as { code?: unknown; message: string };
    }
    throw new Error("expected the call to fail");
  }

  it("maps keys to value files and @ directories under the root", async () => {
    const store = open();
    await store.put("packs/ab/cd", bytes("deep"));
    await store.put("packs", bytes("top"));
    expect(new TextDecoder().decode(await readFile(join(root, "packs@", "ab@", "cd")))).toBe("deep");
    expect(new TextDecoder().decode(await readFile(join(root, "packs")))).toBe("top");
    expect((await readdir(root)).sort()).toEqual(["packs", "packs@", TEMP_DIR]);
  });

  it("names itself by its absolute root", () => {
    const store = createFileStore({ root: "relative/dir" });
    expect(store.root).toBe(resolve("relative/dir"));
    expect(store.name).toBe(`file:${resolve("relative/dir")}`);
    expect(store.specificationVersion).toBe("v1");
  });

  it("reads a missing root as an empty store without creating it", async () => {
    const store = open();
    expect(await store.get("a/b")).toBeUndefined();
    expect(await store.getRange("a", 0, 1)).toBeUndefined();
    expect(await store.head("a")).toBeUndefined();
    expect(await store.has("a")).toBe(false);
    expect(await listAll(store)).toEqual([]);
    await store.delete("a/b");
    expect(await store.sweepTemp(0)).toBe(0);
    expect(existsSync(root)).toBe(false);
  });

  it(`refuses segments longer than ${MAX_SEGMENT_BYTES} bytes before touching the disk`, async () => {
    const store = open();
    const tooLong = "a".repeat(MAX_SEGMENT_BYTES + 1);
    for (const key of [tooLong, `${tooLong}/x`, `x/${tooLong}`]) {
      expect((await failure(() => store.put(key, bytes("v")))).code).toBe("INVALID_KEY");
      expect((await failure(() => store.get(key))).code).toBe("INVALID_KEY");
    }
    expect(existsSync(root)).toBe(false);
    const longest = "b".repeat(MAX_SEGMENT_BYTES);
    await store.put(`${longest}/${longest}`, bytes("fits"));
    expect(await listAll(store)).toEqual([`${longest}/${longest}`]);
  });

  it("removes the directories a delete empties, and only those", async () => {
    const store = open();
    await store.put("a/b/c", bytes("1"));
    await store.put("a/d", bytes("2"));
    await store.delete("a/b/c");
    expect(existsSync(join(root, "a@", "b@"))).toBe(false);
    expect(existsSync(join(root, "a@"))).toBe(true);
    await store.delete("a/d");
    expect(existsSync(join(root, "a@"))).toBe(false);
    expect((await readdir(root)).sort()).toEqual([TEMP_DIR]);
    await store.put("a/b/c", bytes("3"));
    expect(await listAll(store)).toEqual(["a/b/c"]);
  });

  it("leaves no temporary file behind after any write", async () => {
    const store = open(true);
    await store.put("t/put", bytes("1"));
    expect(await store.putIfAbsent("t/pia", bytes("2"))).toBe(true);
    expect(await store.putIfAbsent("t/pia", bytes("3"))).toBe(false);
    await store.putStream(
      "t/stream",
      (async function* () {
        yield bytes("4");
      })(),
    );
    await expect(
      store.putStream(
        "t/failed",
        (async function* () {
          yield bytes("5");
          throw new Error("producer failed");
        })(),
      ),
    ).rejects.toThrow("producer failed");
    expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
    expect(await listAll(store)).toEqual(["t/pia", "t/put", "t/stream"]);
  });

  it("never lists temporary files or foreign entries", async () => {
    const store = open();
    await store.put("real/key", bytes("v"));
    await writeFile(join(root, TEMP_DIR, "123-abc.tmp"), "partial");
    await writeFile(join(root, "stray~"), "x");
    await writeFile(join(root, "real@", "has space"), "x");
    await writeFile(join(root, "file@"), "a file named like a directory");
    await mkdir(join(root, "plain-dir"));
    await writeFile(join(root, "plain-dir", "inner"), "x");
    await mkdir(join(root, "value-dir"));
    expect(await listAll(store)).toEqual(["real/key"]);
    expect(await store.get("plain-dir/inner")).toBeUndefined();
    expect(await store.has("file/x")).toBe(false);
  });

  it("sweeps temporary files older than the given age", async () => {
    const store = open();
    await store.put("k", bytes("v"));
    const old = join(root, TEMP_DIR, "1-old.tmp");
    const fresh = join(root, TEMP_DIR, "2-fresh.tmp");
    await writeFile(old, "left by a killed writer");
    await writeFile(fresh, "being written");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    expect(await store.sweepTemp(3600_000)).toBe(1);
    expect(await readdir(join(root, TEMP_DIR))).toEqual(["2-fresh.tmp"]);
    expect(await store.sweepTemp(0)).toBe(1);
    expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
    expect(await store.get("k")).toEqual(bytes("v"));
    await expect(store.sweepTemp(-1)).rejects.toThrow(RangeError);
  });

  it("refuses a directory symlink that leads out of the root", async () => {
    const store = open();
    await store.put("inside", bytes("v"));
    const outside = join(dir, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "secret"), "secret");
    await symlink(outside, join(root, "evil@"));
    for (const [what, call] of [
      ["get", () => store.get("evil/secret")],
      ["getRange", () => store.getRange("evil/secret", 0, 3)],
      ["head", () => store.head("evil/secret")],
      ["has", () => store.has("evil/secret")],
      ["put", () => store.put("evil/new", bytes("x"))],
      ["putIfAbsent", () => store.putIfAbsent("evil/new", bytes("x"))],
      ["delete", () => store.delete("evil/secret")],
      ["list", () => listAll(store, "evil/")],
    ] as const) {
      const error = await failure(call);
      expect(error.code, what).toBe("STORE_IO");
      expect(error.message, what).toContain(store.name);
      expect(error.message, what).toContain("outside the store root");
    }
    expect((await readdir(outside)).sort()).toEqual(["secret"]);
    expect(await listAll(store)).toEqual(["inside"]);
  });

  it("refuses a symlink in place of a value, and does not list it", async () => {
    const store = open();
    await store.put("real", bytes("v"));
    const target = join(dir, "target");
    await writeFile(target, "outside value");
    await symlink(target, join(root, "link"));
    expect((await failure(() => store.get("link"))).code).toBe("STORE_IO");
    expect((await failure(() => store.head("link"))).code).toBe("STORE_IO");
    expect(await listAll(store)).toEqual(["real"]);
  });

  it("follows a directory symlink that stays inside the root", async () => {
    const store = open();
    await store.put("real/x", bytes("v"));
    await symlink(join(root, "real@"), join(root, "alias@"));
    expect(await store.get("alias/x")).toEqual(bytes("v"));
  });

  it("shares values between two stores on one root", async () => {
    const a = open();
    const b = open();
    await a.put("shared/k", bytes("from a"));
    expect(await b.get("shared/k")).toEqual(bytes("from a"));
    expect(await b.putIfAbsent("shared/k", bytes("from b"))).toBe(false);
    await b.delete("shared/k");
    expect(await a.has("shared/k")).toBe(false);
  });

  it("fails with a one-line STORE_IO error naming the store and key", async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(root, "a file where the root should be");
    const store = open();
    const error = await failure(() => store.put("some/key", bytes("v")));
    expect(error).toBeInstanceOf(FileStoreIOError);
    expect(error.code).toBe("STORE_IO");
    expect(error.message).toMatch(
      new RegExp(`^file:${root}: put some/key failed: .+\\((EEXIST|ENOTDIR)\\)$`),
    );
    expect(error.message).not.toContain("\n");
  });

  it("rejects bad ranges", async () => {
    const store = open();
    await store.put("k", bytes("value"));
    await expect(store.getRange("k", -1, 1)).rejects.toThrow(RangeError);
    await expect(store.getRange("k", 0, Number.NaN)).rejects.toThrow(RangeError);
  });
});
