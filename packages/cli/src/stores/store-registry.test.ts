import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { UsageError } from "../errors.ts";
import { defaultStoreUrl, openStore, registerStoreScheme } from "./store-registry.ts";

describe("store registry", () => {
  test("defaultStoreUrl: VKC_STORE, else a file store in the data directory", () => {
    expect(defaultStoreUrl({ VKC_STORE: "s3mock:/srv/s3" })).toBe("s3mock:/srv/s3");
    expect(defaultStoreUrl({ XDG_DATA_HOME: "/data" })).toBe("file:/data/vkc/store");
  });

  test("file: paths and bare paths are relative to cwd", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "vkc-registry-"));
    const options = { env: {}, cwd };
    expect((await openStore("file:images", options)).name).toBe(`file:${join(cwd, "images")}`);
    expect((await openStore("images", options)).name).toBe(`file:${join(cwd, "images")}`);
    expect((await openStore("file:/abs/store", options)).name).toBe("file:/abs/store");
  });

  test("memory: stores are shared by name within the process", async () => {
    const a = await openStore("memory:one");
    await a.put("k", new Uint8Array([1]));
    expect(await (await openStore("memory:one")).has("k")).toBe(true);
    expect(await (await openStore("memory:two")).has("k")).toBe(false);
  });

  test("an unknown scheme is a usage error listing the known ones; schemes can be registered", async () => {
    const error = await openStore("nfs://host/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(
      /unknown store scheme 'nfs:' in nfs:\/\/host\/x \(known: .*file:.*s3:.*s3mock:/,
    );
    registerStoreScheme("nfs", async (url, options) => openStore(`memory:${String(url)}`, options));
    expect((await openStore("nfs://host/x")).specificationVersion).toBe("v1");
  });
});
