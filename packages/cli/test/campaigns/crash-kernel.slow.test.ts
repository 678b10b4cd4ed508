import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createImageStore } from "@vkc/checkpoint";
import { afterAll, expect, it } from "vitest";
import { openStore } from "../../src/stores/store-registry.ts";
import { vkc } from "./campaign-cli.ts";
import { checkConsistent } from "./campaign-consistency.ts";
import { cleanupDirs, figure, prng, SEED, sleep, startChild, tempDir } from "./campaign-support.ts";

/**
 * Crash consistency through the kernel's own checkpoints: `vkc run --checkpoint-every` (the real
 * CLI in a child process: freeze, incremental page streams, the image store, `--keep` removals)
 * is SIGKILLed at random moments into a file store and into the embedded S3 server (`s3mock:DIR`,
 * which dies with it). Afterwards every image it reported committed is listed, verifies, reads
 * back whole, and restores to the program's exact expected output; nothing partial is listed; gc
 * reclaims what the dead runs left.
 */

const GUEST = resolve(import.meta.dirname, "../../../host-kernel/guest");
const MEMTOUCH = join(GUEST, "bin/memtouch.elf");
/** 8 MiB, half of it dirtied in each of 6 rounds: every checkpoint writes megabytes of packs. */
const ARGS = ["8", "50", "6"];
const random = prng(SEED ^ 0x6b31);
afterAll(cleanupDirs);

/** Ids of `checkpoint` events a run printed (`--json`). */
function checkpointIds(lines: readonly string[]): string[] {
  return lines
    .filter((l) => l.startsWith('{"event":"checkpoint"'))
    .map((l) => String((JSON.parse(l) as { image: unknown }).image));
}

/** Starts `vkc run` checkpointing every 2M instructions, SIGKILLs it at a random moment. */
async function killedRun(store: string, round: number): Promise<{ ids: string[]; killed: boolean }> {
  const child = startChild("campaign-vkc.ts", [
    "run",
    "--json",
    "--store",
    store,
    "--console",
    join(await tempDir(`kernel-out-${round}`), "console.txt"),
    "--checkpoint-every",
    "2M",
    "--keep",
    "3",
    MEMTOUCH,
    ...ARGS,
  ]);
  // The first run commits at least once, so there is always something to lose.
  await child.waitFor(round === 0 ? '{"event":"checkpoint"' : '{"event":', 60_000);
  await sleep(Math.floor(random() * 1200));
  child.kill("SIGKILL");
  const exit = await child.exited;
  if (exit.signal !== "SIGKILL" && exit.code !== 0)
    throw new Error(`vkc run failed before its kill: ${child.stderr().trim()}`);
  return { ids: checkpointIds(child.lines), killed: exit.signal === "SIGKILL" };
}

/** memtouch's whole output, from an uninterrupted `vkc run` in this process. */
async function uninterrupted(): Promise<string> {
  const out = join(await tempDir("kernel-whole"), "console.txt");
  const r = await vkc(["run", "--console", out, MEMTOUCH, ...ARGS]);
  if (r.status !== 0) throw new Error(`vkc run memtouch exited ${r.status}: ${r.err.trim()}`);
  return readFileSync(out, "utf8");
}

/** `vkc restore ID` in this process: the run from the image must end exactly as the whole run. */
async function restoresWhole(store: string, id: string, expected: string): Promise<void> {
  const out = join(await tempDir("kernel-restore"), "console.txt");
  const r = await vkc(["restore", "--store", store, "--console", out, id]);
  if (r.status !== 0) throw new Error(`vkc restore ${id} exited ${r.status}: ${r.err.trim()}`);
  const tail = readFileSync(out, "utf8");
  // The restored run prints what memtouch prints after the checkpoint instant: a suffix.
  expect(tail.length).toBeGreaterThan(0);
  expect(expected.endsWith(tail)).toBe(true);
}

async function campaign(label: string, store: string): Promise<void> {
  const reported = new Set<string>();
  let kills = 0;
  for (let round = 0; round < 3; round++) {
    const { ids, killed } = await killedRun(store, round);
    for (const id of ids) reported.add(id);
    if (killed) kills++;
  }
  const blobs = await openStore(store);
  // `--keep 3` removes a run's older images once newer ones commit: the ones still listed must
  // survive whole, and the newest image of each run always is listed.
  const listed = new Set((await createImageStore(blobs).list()).map((l) => l.id));
  const kept = [...reported].filter((id) => listed.has(id));
  expect(kept.length).toBeGreaterThan(0);
  const report = await checkConsistent(blobs, kept);
  await blobs.close?.();
  const expected = await uninterrupted();
  for (const id of kept) await restoresWhole(store, id, expected);
  figure(
    `crash-kernel/${label}`,
    `${kills} kills of vkc run --checkpoint-every survived; ${reported.size} checkpoints reported, ` +
      `${kept.length} kept, all verified, read back (${report.pagesRead} pages) and restored to the exact output; ` +
      `${report.orphansReclaimed} orphan packs reclaimed`,
  );
}

it("file store: kill -9 of vkc run during kernel checkpoints loses nothing committed", async () => {
  const dir = await tempDir("crash-kernel-file");
  await campaign("file", `file:${dir}`);
});

it("embedded S3 server: kill -9 of vkc run (and its server) loses nothing committed", async () => {
  const dir = await tempDir("crash-kernel-s3");
  // The campaign reads the objects back through a new embedded server on the same directory.
  await campaign("s3mock", `s3mock:${dir}`);
});
