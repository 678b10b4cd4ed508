import { createFileStore } from "@vkc/backend-file";
import { afterAll, expect, it } from "vitest";
import { checkConsistent } from "./campaign-consistency.ts";
import { openSpec } from "./campaign-stores.ts";
import {
  type Child,
  cleanupDirs,
  committedIds,
  figure,
  prng,
  SEED,
  sleep,
  startChild,
  tempDir,
} from "./campaign-support.ts";

/**
 * Crash consistency: a writer child process (image writes, copies, gc) is SIGKILLed at
 * random moments, into a file store and into the S3 server (itself a child process, killed
 * and restarted on its directory too). Afterwards every committed image is listed, verifies and
 * reads back whole, nothing partial is listed, and gc reclaims what the dead writers left.
 */

const random = prng(SEED ^ 0xc4a5);
const delay = (min: number, max: number) => Math.floor(min + random() * (max - min));
afterAll(cleanupDirs);

/** Starts `mode`, waits for its `after` line, lets it run a random while, SIGKILLs it. */
async function killAtRandom(
  mode: string,
  spec: string,
  extra: string[],
  minMs: number,
  maxMs: number,
  after = "ready",
): Promise<Child> {
  const child = startChild("campaign-writer.ts", [mode, spec, ...extra]);
  await child.waitFor(after);
  await sleep(delay(minMs, maxMs));
  child.kill("SIGKILL");
  const exit = await child.exited;
  if (exit.signal !== "SIGKILL")
    throw new Error(`${mode} writer ended before its kill: ${child.stderr().trim()}`);
  return child;
}

it("file store: kill -9 during writes, copies and gc loses nothing committed", async () => {
  const source = `file:${await tempDir("crash-src")}`;
  const target = `file:${await tempDir("crash-dst")}`;
  const committed = new Set<string>();
  let kills = 0;
  for (let round = 0; round < 3; round++) {
    // The first writer commits at least once, so there is always something to lose.
    const after = round === 0 ? "committed " : "ready";
    const child = await killAtRandom("write", source, [String(round * 1000)], 0, 500, after);
    for (const id of committedIds(child)) committed.add(id);
    kills++;
  }
  expect(committed.size).toBeGreaterThan(0);
  const copied = new Set<string>();
  for (let round = 0; round < 1; round++) {
    const child = await killAtRandom("copy", target, [source], 0, 200);
    for (const line of child.lines) if (line.startsWith("copied ")) copied.add(line.slice(7));
    kills++;
  }
  for (let round = 0; round < 1; round++) {
    await killAtRandom("gc", source, [], 0, 300);
    kills++;
  }
  const fileStore = createFileStore({ root: source.slice(5), fsync: false });
  const temps = await fileStore.sweepTemp(0);
  const src = await checkConsistent(fileStore, committed);
  const dst = await checkConsistent(await openSpec(target), copied);
  figure(
    "crash/file",
    `${kills} kills survived; ${committed.size} committed images verified (${src.listed} listed, ${src.pagesRead} pages read back), ` +
      `${copied.size} copied (${dst.listed} in target), ${src.orphansReclaimed + dst.orphansReclaimed} orphan packs and ${temps} temp files reclaimed`,
  );
});

it("S3 server: kill -9 of the writer and of the server loses nothing committed", async () => {
  const dir = await tempDir("crash-s3");
  let server = startChild("campaign-s3-server.ts", [dir]);
  let spec = `s3:${(await server.waitFor("listening ")).slice("listening ".length)}`;
  const committed = new Set<string>();
  let writerKills = 0;
  let serverKills = 0;
  try {
    for (let round = 0; round < 2; round++) {
      const after = round === 0 ? "committed " : "ready";
      const child = await killAtRandom("write", spec, [String(round * 1000)], 200, 1200, after);
      for (const id of committedIds(child)) committed.add(id);
      writerKills++;
    }
    for (let round = 0; round < 1; round++) {
      const writer = startChild("campaign-writer.ts", ["write", spec, String(10_000 + round * 1000)]);
      await writer.waitFor("ready");
      await sleep(delay(100, 600));
      server.kill("SIGKILL");
      await server.exited;
      serverKills++;
      // The writer dies with its server (it would only fail after its retries).
      writer.kill("SIGKILL");
      await writer.exited;
      writerKills++;
      for (const id of committedIds(writer)) committed.add(id);
      server = startChild("campaign-s3-server.ts", [dir]);
      spec = `s3:${(await server.waitFor("listening ")).slice("listening ".length)}`;
    }
    await killAtRandom("gc", spec, [], 0, 400);
    writerKills++;
    expect(committed.size).toBeGreaterThan(0);
    const blobs = await openSpec(spec);
    const report = await checkConsistent(blobs, committed);
    await blobs.close?.();
    figure(
      "crash/s3",
      `${writerKills} writer kills and ${serverKills} server kills survived; ${committed.size} committed images verified ` +
        `(${report.listed} listed, ${report.pagesRead} pages read back), ${report.orphansReclaimed} orphan packs reclaimed`,
    );
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
});
