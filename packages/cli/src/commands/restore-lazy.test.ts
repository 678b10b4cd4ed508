import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const root = resolve(import.meta.dirname, "../../../..");
const memtouch = join(root, "packages/host-kernel/guest/bin/memtouch.elf");

function exitEvent(stdout: string): Record<string, unknown> | undefined {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.event === "exit");
}

describe("vkc restore --lazy", () => {
  test("finishes exactly as an eager restore: console, status, instructions, digest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-lazy-"));
    const store = `file:${join(dir, "store")}`;
    const args = ["--cpus", "2", "--store", store, "--console", join(dir, "part1.txt")];
    const at = ["--checkpoint-at", "1500000", "--exit-after-checkpoint"];
    expect(await main(["run", ...args, ...at, memtouch, "1", "30", "2"], captureIO())).toBe(0);
    const outcomes = [];
    for (const mode of [[], ["--lazy"]]) {
      const io = captureIO();
      const consoleFile = join(dir, `part2${mode.join("")}.txt`);
      const status = await main(
        ["restore", "latest", "--json", "--store", store, "--console", consoleFile, ...mode],
        io,
      );
      outcomes.push({ status, exit: exitEvent(io.stdout()), console: readFileSync(consoleFile, "utf8") });
    }
    const [eager, lazy] = outcomes;
    expect(eager?.status).toBe(0);
    expect(eager?.exit).toMatchObject({ reason: "exited", status: 0 });
    expect(lazy).toEqual(eager);
  }, 60_000);

  test("a damaged pack stops the run when the guest touches it: one line, exit status 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-lazy-bad-"));
    const store = join(dir, "store");
    const args = ["--store", `file:${store}`, "--console", join(dir, "c.txt"), "--checkpoint-at", "100000"];
    expect(await main(["run", ...args, "--exit-after-checkpoint", memtouch], captureIO())).toBe(0);
    const packs = join(store, "packs@");
    for (const name of readdirSync(packs, { recursive: true }) as string[]) {
      if (!/^[0-9a-f]{64}$/.test(name.split("/").pop() ?? "")) continue;
      const bytes = readFileSync(join(packs, name));
      bytes[20] = (bytes[20] as number) ^ 0xff; // inside the header: damaged CBOR, or not the pack its name says
      writeFileSync(join(packs, name), bytes);
    }
    const io = captureIO();
    expect(
      await main(
        ["restore", "latest", "--lazy", "--store", `file:${store}`, "--console", join(dir, "d.txt")],
        io,
      ),
    ).toBe(1);
    expect(io.stderr()).toMatch(
      /^vkc: lazy restore of image [0-9a-f]{12}: page \d+ of object \d+: packs\/[0-9a-f]{64}: [^\n]+\n$/,
    );
  }, 60_000);

  test("refuses a store that cannot read synchronously, in one line, exit status 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-lazy-s3-"));
    const store = `s3mock:${join(dir, "s3")}`;
    const args = ["--store", store, "--console", join(dir, "c.txt"), "--checkpoint-at", "100000"];
    expect(await main(["run", ...args, "--exit-after-checkpoint", memtouch], captureIO())).toBe(0);
    const io = captureIO();
    expect(await main(["restore", "latest", "--lazy", "--store", store], io)).toBe(1);
    expect(io.stderr()).toMatch(
      /^vkc: cannot restore latest: .*cannot read synchronously, which a lazy restore needs \(copy the image to a file store first\)\n$/,
    );
  }, 60_000);
});
