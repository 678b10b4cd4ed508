import { afterAll, expect, it } from "vitest";
import { checkConsistent } from "./campaign-consistency.ts";
import { openSpec } from "./campaign-stores.ts";
import { type Child, cleanupDirs, committedIds, figure, startChild, tempDir } from "./campaign-support.ts";

/**
 * Load: several writer processes write images into one file store and into one S3 server (its
 * own process) at the same time, while a gc process loops with grace 0 on each store. Nothing
 * committed may be lost: every committed id verifies and reads back at the end.
 */

const WRITERS = 3;
afterAll(cleanupDirs);

async function underLoad(spec: string, imagesEach: number): Promise<{ committed: string[]; gcRuns: number }> {
  const start = performance.now();
  const writers: Child[] = [];
  for (let w = 0; w < WRITERS; w++)
    writers.push(startChild("campaign-writer.ts", ["write", spec, String(w * 1000), String(imagesEach)]));
  const gc = startChild("campaign-writer.ts", ["gc", spec]);
  try {
    const exits = await Promise.all(writers.map((w) => w.exited));
    for (const [i, exit] of exits.entries()) expect(exit.code, writers[i]?.stderr()).toBe(0);
  } finally {
    gc.kill("SIGKILL");
    await gc.exited;
  }
  console.log(
    `[campaign] load ${spec.slice(0, 4)}: writers done in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
  const gcRuns = gc.lines.filter((l) => l.startsWith("gc ")).length;
  expect(gc.stderr()).not.toMatch(/Error/);
  return { committed: writers.flatMap(committedIds), gcRuns };
}

it("file store: concurrent writers and a gc loop lose nothing committed", async () => {
  const spec = `file:${await tempDir("load")}`;
  const { committed, gcRuns } = await underLoad(spec, 4);
  expect(committed).toHaveLength(WRITERS * 4);
  const report = await checkConsistent(await openSpec(spec), committed);
  figure(
    "load/file",
    `${WRITERS} writer processes, ${committed.length} images committed and verified (${report.pagesRead} pages read back), ${gcRuns} concurrent gc runs (grace 0)`,
  );
});

it("S3 server: concurrent writers and a gc loop lose nothing committed", async () => {
  const dir = await tempDir("load-s3");
  const server = startChild("campaign-s3-server.ts", [dir]);
  try {
    const spec = `s3:${(await server.waitFor("listening ")).slice("listening ".length)}`;
    // The server fsyncs every object: fewer images keep this within the CI budget.
    const { committed, gcRuns } = await underLoad(spec, 2);
    expect(committed).toHaveLength(WRITERS * 2);
    const blobs = await openSpec(spec);
    const report = await checkConsistent(blobs, committed);
    await blobs.close?.();
    figure(
      "load/s3",
      `${WRITERS} writer processes, ${committed.length} images committed and verified (${report.pagesRead} pages read back), ${gcRuns} concurrent gc runs (grace 0)`,
    );
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
});
