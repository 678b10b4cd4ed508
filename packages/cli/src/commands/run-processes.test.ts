import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { guestProgramPath } from "@vkc/host-kernel";
import { expect, test } from "vitest";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

async function vkcJson(args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(
    process.execPath,
    ["--import", TSX, "--conditions=@vkc/source", BIN, ...args],
    {
      timeout: 120_000,
    },
  );
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

// Determinism across OS processes: nothing of the host process (addresses, hash seeds, timing)
// leaks into the guest's run.
test("the same program, seed and input give the same final digest in two OS processes", async () => {
  const args = [
    "run",
    "--json",
    "--cpus",
    "4",
    "--seed",
    "11",
    "--console",
    "/dev/null",
    guestProgramPath("threads"),
    "4",
    "3000",
  ];
  const [a, b] = await Promise.all([vkcJson(args), vkcJson(args)]);
  const exitA = a.find((e) => e.event === "exit");
  const exitB = b.find((e) => e.event === "exit");
  expect(exitA).toMatchObject({ event: "exit", status: 0 });
  expect(exitA?.digest).toMatch(/^[0-9a-f]{64}$/);
  expect(exitB).toEqual(exitA);
}, 150_000);
