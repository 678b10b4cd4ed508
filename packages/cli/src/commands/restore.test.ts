import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const root = resolve(import.meta.dirname, "../../../..");
const guest = (name: string) => join(root, "packages/host-kernel/guest/bin", `${name}.elf`);
const run = promisify(execFile);

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every file under `dir`, for "nothing changed" checks. */
function listing(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

async function uninterrupted(program: string, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "vkc-whole-"));
  const io = captureIO();
  const consoleFile = join(dir, "console.txt");
  const status = await main(
    ["run", "--json", "--cpus", "2", "--console", consoleFile, guest(program), ...args],
    io,
  );
  const exit = events(io.stdout()).find((e) => e.event === "exit");
  return { status, console: readFileSync(consoleFile, "utf8"), exit };
}

describe("vkc run --checkpoint-at and vkc restore", () => {
  test("checkpoint, exit, restore latest: the same console, status and digest as one run", async () => {
    const whole = await uninterrupted("threads");
    const dir = mkdtempSync(join(tmpdir(), "vkc-restore-"));
    const store = `file:${join(dir, "store")}`;
    const first = captureIO();
    const part1 = join(dir, "part1.txt");
    const at = Math.floor(Number(whole.exit?.instructions) / 3);
    const args = ["--json", "--cpus", "2", "--console", part1, "--store", store, "--checkpoint-at", `${at}`];
    expect(await main(["run", ...args, "--exit-after-checkpoint", guest("threads")], first)).toBe(0);
    const written = events(first.stdout());
    expect(written[0]).toMatchObject({ event: "checkpoint", instructions: at, parent: null });
    expect(written[1]).toMatchObject({ event: "exit", reason: "checkpointed", instructions: at });
    const second = captureIO();
    const part2 = join(dir, "part2.txt");
    expect(await main(["restore", "latest", "--json", "--store", store, "--console", part2], second)).toBe(0);
    const exit = events(second.stdout()).find((e) => e.event === "exit");
    expect(exit).toMatchObject({ reason: "exited", status: 0, instructions: whole.exit?.instructions });
    expect(exit?.digest).toBe(whole.exit?.digest);
    expect(readFileSync(part1, "utf8") + readFileSync(part2, "utf8")).toBe(whole.console);
    // By unique id prefix too, and without --json: one stderr line per checkpoint.
    const id = String(written[0]?.image);
    const third = captureIO();
    const later = Number(whole.exit?.instructions) - 1000;
    const restoreArgs = ["restore", id.slice(0, 10), "--store", store, "--console", join(dir, "p3.txt")];
    expect(await main([...restoreArgs, "--checkpoint-at", `${later}`], third)).toBe(0);
    expect(third.stderr()).toMatch(
      /^vkc: checkpoint [0-9a-f]{12} of pid \d+ at \d+ instructions \(full, .*\)\n$/,
    );
  }, 60_000);

  test("a fresh OS process: vkc run … --exit-after-checkpoint, then vkc restore latest", async () => {
    const whole = await uninterrupted("pipes", ["64", "threads"]);
    const dir = mkdtempSync(join(tmpdir(), "vkc-proc-"));
    const store = `file:${join(dir, "store")}`;
    const vkc = (args: string[]) =>
      run(
        process.execPath,
        ["--import", "tsx", "--conditions=@vkc/source", "packages/cli/src/bin.ts", ...args],
        {
          cwd: root,
          env: { ...process.env, CI: "1" },
        },
      );
    const at = Math.floor(Number(whole.exit?.instructions) / 2);
    const a = await vkc(
      ["run", "--cpus", "2", "--store", store, "--checkpoint-at", `${at}`, "--exit-after-checkpoint"].concat(
        guest("pipes"),
        "64",
        "threads",
      ),
    );
    const b = await vkc(["restore", "latest", "--store", store, "--json"]);
    const exit = events(b.stdout).find((e) => e.event === "exit");
    expect(exit).toMatchObject({
      status: 0,
      instructions: whole.exit?.instructions,
      digest: whole.exit?.digest,
    });
    expect(
      a.stdout +
        b.stdout
          .split("\n")
          .filter((l) => !l.startsWith("{"))
          .join("\n"),
    ).toBe(whole.console);
  }, 60_000);

  test("unknown, wrongly signed or damaged image, missing or changed executable: one line, exit 1, nothing changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-bad-"));
    const storeDir = join(dir, "store");
    const store = `file:${storeDir}`;
    const elf = join(dir, "primes.elf");
    copyFileSync(guest("primes"), elf);
    const io = captureIO();
    expect(
      await main(["run", "--store", store, "--checkpoint-at", "5000", "--exit-after-checkpoint", elf], io),
    ).toBe(0);
    const before = listing(storeDir);
    const attempt = async (image: string) => {
      const r = captureIO();
      const consoleFile = join(dir, "never.txt");
      const status = await main(["restore", image, "--store", store, "--console", consoleFile], r);
      expect(existsSync(consoleFile)).toBe(false);
      expect(r.stderr().trim().split("\n")).toHaveLength(1);
      return { status, err: r.stderr() };
    };
    expect(await attempt("no-such-image")).toMatchObject({
      status: 1,
      err: expect.stringMatching(/^vkc: .*no-such-image/),
    });
    writeFileSync(elf, readFileSync(guest("hello")));
    expect(await attempt("latest")).toMatchObject({
      status: 1,
      err: expect.stringMatching(/primes.elf has SHA-256/),
    });
    rmSync(elf);
    expect(await attempt("latest")).toMatchObject({
      status: 1,
      err: expect.stringMatching(/primes.elf is missing/),
    });
    expect(listing(storeDir)).toEqual(before);
    // A key the image was not signed with, then a damaged manifest.
    copyFileSync(guest("primes"), elf);
    process.env.VKC_SIGN_KEY = "not the key";
    try {
      expect(await attempt("latest")).toMatchObject({
        status: 1,
        err: expect.stringMatching(/signature|signed/),
      });
    } finally {
      delete process.env.VKC_SIGN_KEY;
    }
    const manifests = join(storeDir, "manifests@");
    for (const name of readdirSync(manifests, { recursive: true }) as string[]) {
      const file = join(manifests, name);
      if (statSync(file).isFile()) writeFileSync(file, readFileSync(file).subarray(0, 100));
    }
    const damaged = listing(storeDir);
    expect(await attempt("latest")).toMatchObject({
      status: 1,
      err: expect.stringMatching(/^vkc: cannot restore latest/),
    });
    expect(listing(storeDir)).toEqual(damaged);
    rmSync(elf);
    // With --embed the image carries the executable, so it restores without the file.
    copyFileSync(guest("primes"), elf);
    expect(
      await main(
        ["run", "--store", store, "--embed", "--checkpoint-at", "5000", "--exit-after-checkpoint", elf],
        io,
      ),
    ).toBe(0);
    rmSync(elf);
    const ok = captureIO();
    expect(await main(["restore", "latest", "--store", store], ok)).toBe(0);
    expect(ok.stdout()).toMatch(/primes/);
  }, 60_000);
});
