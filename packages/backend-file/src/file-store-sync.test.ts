import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidKeyError, supportsSyncRead } from "@vkc/checkpoint";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFileStore, type FileStore } from "./file-store.ts";
import { FileStoreIOError } from "./file-store-errors.ts";

describe("file store: getRangeSync", () => {
  let dir: string;
  let store: FileStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vkc-file-sync-"));
    store = createFileStore({ root: join(dir, "store"), fsync: false });
  });
  afterEach(async () => {
    await store.close?.();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the same ranges as getRange, synchronously", async () => {
    expect(supportsSyncRead(store)).toBe(true);
    const value = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    await store.put("packs/ab", value);
    await store.put("refs/latest", value.subarray(0, 10));
    for (const [offset, length] of [
      [0, 4096],
      [4096, 4096],
      [9000, 4096],
      [20_000, 5],
      [3, 0],
    ] as const) {
      const sync = store.getRangeSync("packs/ab", offset, length);
      expect(sync).toEqual(await store.getRange("packs/ab", offset, length));
    }
    expect(store.getRangeSync("refs/latest", 2, 3)).toEqual(value.subarray(2, 5));
    await store.put("refs/latest", value.subarray(5, 15)); // a mutable key is never served stale
    expect(store.getRangeSync("refs/latest", 2, 3)).toEqual(value.subarray(7, 10));
  });

  it("returns undefined for a missing key, refuses bad keys and ranges", async () => {
    expect(store.getRangeSync("packs/none", 0, 10)).toBeUndefined();
    await store.put("packs/ab", new Uint8Array(8));
    expect(store.getRangeSync("packs/none", 0, 10)).toBeUndefined();
    expect(() => store.getRangeSync("../x", 0, 1)).toThrow(InvalidKeyError);
    expect(() => store.getRangeSync("packs/ab", -1, 1)).toThrow(RangeError);
  });

  it("refuses a directory that leads out of the root through a symbolic link", async () => {
    await store.put("refs/latest", new Uint8Array(1));
    const outside = join(dir, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "evil"), "secret");
    await symlink(outside, join(dir, "store", "other@"));
    expect(() => store.getRangeSync("other/evil", 0, 6)).toThrow(FileStoreIOError);
  });
});
