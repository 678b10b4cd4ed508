/**
 * Differential tests of the guest programs against qemu-riscv32: every case of
 * guest/expected/cases.json that runs under qemu must print exactly its expected
 * stdout and exit with its expected status. The kernel's own tests run the same
 * ELFs under vkc against the same files. Missing tools fail (never skip) with the
 * command that installs them.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const guestDir = fileURLToPath(new URL("../guest/", import.meta.url));
const binDir = join(guestDir, "bin");
const expectedDir = join(guestDir, "expected");
const RUN_TIMEOUT_MS = 60_000;
/** Builds compile a dozen files with clang: give a loaded CI machine room. */
const BUILD_TIMEOUT_MS = 300_000;

type Where = "qemu" | "qemu-linux-shim" | "vkc";

interface GuestCase {
  name: string;
  program: string;
  args: string[];
  exitStatus: number;
  stdout: string;
  runsUnder: Where[];
}

const manifest = JSON.parse(readFileSync(join(expectedDir, "cases.json"), "utf8")) as { cases: GuestCase[] };
const casesUnder = (where: Where): GuestCase[] => manifest.cases.filter((c) => c.runsUnder.includes(where));

const INSTALL_HINTS: Record<string, string> = {
  "qemu-riscv32": "apt-get install -y qemu-user",
  clang: "apt-get install -y clang lld",
  "ld.lld": "apt-get install -y clang lld",
};

/** Throws (so the test fails, never skips) when `tool` is not on PATH. */
function requireTool(tool: string): void {
  const probe = spawnSync(tool, ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined) {
    throw new Error(`${tool} is not on PATH; install it with: ${INSTALL_HINTS[tool] ?? tool}`);
  }
}

interface RunResult {
  stdout: string;
  stderr: string;
  status: number;
}

function runUnderQemu(elf: string, args: string[]): RunResult {
  const r = spawnSync("qemu-riscv32", [elf, ...args], {
    encoding: "utf8",
    timeout: RUN_TIMEOUT_MS,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error !== undefined) throw new Error(`running ${elf} under qemu-riscv32 failed: ${r.error.message}`);
  // A guest killed by signal n exits with 128 + n, as a shell reports it.
  const status = r.status ?? 128 + (r.signal === null ? 0 : constants.signals[r.signal]);
  return { stdout: r.stdout, stderr: r.stderr, status };
}

function expectCase(c: GuestCase, dir: string): void {
  const result = runUnderQemu(join(dir, `${c.program}.elf`), c.args);
  const expected = readFileSync(join(expectedDir, c.stdout), "utf8");
  expect(result.stdout, `stdout of ${c.name} (stderr: ${result.stderr})`).toBe(expected);
  expect(result.status, `exit status of ${c.name}`).toBe(c.exitStatus);
}

describe("guest programs under qemu-riscv32", () => {
  it("has qemu-riscv32 installed", () => {
    requireTool("qemu-riscv32");
  });

  it("has qemu cases for every Linux-only program", () => {
    const programs = new Set(casesUnder("qemu").map((c) => c.program));
    expect([...programs].sort()).toEqual([
      "forkdemo",
      "forkpipe",
      "hello",
      "memtouch",
      "pipes",
      "primes",
      "rtcheck",
      "sigdemo",
    ]);
  });

  for (const c of casesUnder("qemu")) {
    it(
      `${c.name}: ${c.program} ${c.args.map((a) => JSON.stringify(a)).join(" ")}`.trim(),
      () => {
        requireTool("qemu-riscv32");
        expectCase(c, binDir);
      },
      RUN_TIMEOUT_MS + 10_000,
    );
  }

  it("reports a usage error on stderr, not stdout", () => {
    requireTool("qemu-riscv32");
    const r = runUnderQemu(join(binDir, "memtouch.elf"), ["0"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^usage: memtouch/);
  });
});

describe("guest build", () => {
  it(
    "rebuilds the committed ELFs byte for byte (check-reproducible.sh)",
    () => {
      requireTool("clang");
      requireTool("ld.lld");
      const r = spawnSync("bash", [join(guestDir, "check-reproducible.sh")], {
        encoding: "utf8",
        timeout: BUILD_TIMEOUT_MS,
      });
      expect(r.error).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/all \d+ ELFs rebuild byte for byte/);
    },
    BUILD_TIMEOUT_MS,
  );
});

describe("thread programs under qemu-riscv32 through the test-only Linux shim", () => {
  let shimDir = "";

  beforeAll(() => {
    shimDir = mkdtempSync(join(tmpdir(), "vkc-guest-shim-"));
  });

  afterAll(() => {
    if (shimDir !== "") rmSync(shimDir, { recursive: true, force: true });
  });

  it(
    "builds with build.sh --linux-shim and passes every shim case",
    () => {
      requireTool("clang");
      requireTool("ld.lld");
      requireTool("qemu-riscv32");
      const build = spawnSync("bash", [join(guestDir, "build.sh"), "--linux-shim", shimDir], {
        encoding: "utf8",
        timeout: BUILD_TIMEOUT_MS,
      });
      expect(build.status, build.stderr).toBe(0);
      const cases = casesUnder("qemu-linux-shim");
      expect(cases.map((c) => c.program)).toContain("threads");
      for (const c of cases) expectCase(c, shimDir);
    },
    BUILD_TIMEOUT_MS + 4 * RUN_TIMEOUT_MS,
  );
});
