import { type BlobStore, createImageStore, createMemoryStore, type ImageStore } from "@vkc/checkpoint";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../kernel.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages, runToEnd, startGuest, text, thawGuest } from "./ckpt-test-support.ts";

/**
 * Pre-copy (CHECKPOINT.md "Pre-copy"): an image written over a live pre-copy holds exactly the
 * pages a stop-and-copy checkpoint at the same instant holds, and obeys the equivalence law.
 */

const PROGRAMS: readonly (readonly [string, readonly string[]])[] = [
  ["memtouch", ["2", "30", "5"]],
  ["threads", ["4", "1000"]],
];

async function pages(images: ImageStore, id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const p of images.readPages(id)) {
    out.set(`${p.objectId}/${p.pageIndex}`, Buffer.from(p.bytes).toString("hex"));
  }
  return out;
}

const wholeRuns = new Map<string, Promise<{ out: string; result: RunResult }>>();
function whole(program: number, cpus: number, seed: number): Promise<{ out: string; result: RunResult }> {
  const key = `${program}/${cpus}/${seed}`;
  let run = wholeRuns.get(key);
  if (run === undefined) {
    const [name, args] = PROGRAMS[program]!;
    const g = startGuest(name, args, { cpus, seed }, memoryImages());
    run = runToEnd(g.kernel).then((result) => ({ out: text(g.chunks), result }));
    wholeRuns.set(key, run);
  }
  return run;
}

/** Run to `t1`, pre-copy until converged, run on to `t2` (pages dirtied after capture), checkpoint. */
async function precopied(
  name: string,
  args: readonly string[],
  cpus: number,
  seed: number,
  t1: number,
  t2: number,
) {
  const images = memoryImages();
  const target = createStoreTarget(images, { precopy: { batchPages: 64, followMs: 1 } });
  const g = startGuest(name, args, { cpus, seed, checkpointTarget: target });
  if ((await g.kernel.run({ stopAt: t1 })).reason !== "stopped") return undefined;
  const session = target.startPrecopy(g.kernel, g.kernel.initPid);
  await session.converged;
  if ((await g.kernel.run({ stopAt: t2 })).reason !== "stopped") {
    await session.close();
    return undefined;
  }
  const written = await target.checkpoint(g.kernel, g.kernel.initPid);
  return { images, target, g, written, session };
}

describe("pre-copy checkpoints", () => {
  it("give the pages a stop-and-copy checkpoint at the same instant gives, streaming only the dirtied ones", async () => {
    const [name, args] = PROGRAMS[0]!;
    const w = await whole(0, 2, 7);
    const t1 = Math.floor(w.result.instructions * 0.3);
    const t2 = Math.floor(w.result.instructions * 0.6);
    const pre = await precopied(name, args, 2, 7, t1, t2);
    expect(pre).toBeDefined();
    const { images, written, session } = pre!;

    const plainImages = memoryImages();
    const plain = startGuest(name, args, { cpus: 2, seed: 7 });
    await plain.kernel.run({ stopAt: t2 });
    const stopAndCopy = await createStoreTarget(plainImages).checkpoint(plain.kernel, plain.kernel.initPid);

    expect(await pages(images, written.id)).toEqual(await pages(plainImages, stopAndCopy.id));
    expect(written.parent).toBeNull();
    expect(written.precopy?.rounds).toBeGreaterThanOrEqual(2);
    expect(session.stats().pagesStaged).toBeGreaterThan(0);
    // Only pages dirtied since their capture were streamed at the freeze.
    expect(written.stats.pagesIn).toBeLessThan(stopAndCopy.stats.pagesIn);
    expect(written.pauseMs).toBeGreaterThanOrEqual(0);
    // The stage is not an image, and its marker is gone once the session closed.
    await session.close();
    expect((await images.list()).map((l) => l.id)).toEqual([written.id]);
    const markers: unknown[] = [];
    for await (const key of images.blobStore.list("writes/")) markers.push(key);
    expect(markers).toEqual([]);
    expect((await images.verify()).ok).toBe(true);
  }, 30_000);

  it("obey the law: thawed, continued, or followed by an incremental image, they end as the whole run", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          program: fc.integer({ min: 0, max: PROGRAMS.length - 1 }),
          cpus: fc.integer({ min: 1, max: 3 }),
          seed: fc.integer({ min: 0, max: 0xffff_ffff }),
          at: fc.array(fc.double({ min: 0.02, max: 0.98, noNaN: true }), { minLength: 3, maxLength: 3 }),
        }),
        async ({ program, cpus, seed, at }) => {
          const w = await whole(program, cpus, seed);
          const [name, args] = PROGRAMS[program]!;
          const [t1, t2, t3] = at
            .map((a) => Math.max(1, Math.floor(w.result.instructions * a)))
            .sort((a, b) => a - b) as [number, number, number];
          const pre = await precopied(name, args, cpus, seed, t1, t2 + 1);
          if (pre === undefined) return;
          const { images, target, g, written } = pre;

          const thawed = await thawGuest(
            images,
            written.id,
            name,
            { checkpointTarget: createStoreTarget(images) },
            [...g.chunks],
          );
          const r1 = await runToEnd(thawed.kernel);
          expect(text(thawed.chunks)).toBe(w.out);
          expect([r1.instructions, r1.digest]).toEqual([w.result.instructions, w.result.digest]);

          // Continue; an incremental image after the pre-copied one thaws the same too.
          let incremental: string | undefined;
          if ((await g.kernel.run({ stopAt: t3 + 2 })).reason === "stopped") {
            const next = await target.checkpoint(g.kernel, g.kernel.initPid);
            expect(next.parent).toBe(written.id);
            incremental = next.id;
          }
          const r2 = await runToEnd(g.kernel);
          expect(text(g.chunks)).toBe(w.out);
          expect([r2.instructions, r2.digest]).toEqual([w.result.instructions, w.result.digest]);
          if (incremental !== undefined) {
            const again = await thawGuest(images, incremental, name, {}, []);
            const r3 = await runToEnd(again.kernel);
            expect([r3.exitStatus, r3.instructions, r3.digest]).toEqual([
              w.result.exitStatus,
              w.result.instructions,
              w.result.digest,
            ]);
          }
        },
      ),
      { numRuns: 6 },
    );
  }, 120_000);

  it("stream themselves the pages of a batch the pre-copy was still storing at the freeze", async () => {
    // A store whose pack writes can be held: the pre-copy's batch is captured (its pages' dirty
    // bits cleared) but not yet in the stage when the checkpoint comes.
    const inner = createMemoryStore();
    let held = false;
    let heldPuts = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hold = async (key: string) => {
      if (!held || !key.startsWith("packs/")) return;
      heldPuts++;
      await gate;
    };
    const blobs = {
      ...inner,
      name: "held:",
      put: async (k, d) => {
        await hold(k);
        await inner.put(k, d);
      },
      putIfAbsent: async (k, d) => {
        await hold(k);
        return inner.putIfAbsent(k, d);
      },
      putStream: async (k: string, chunks: AsyncIterable<Uint8Array>) => {
        await hold(k);
        await inner.putStream(k, chunks);
      },
    } as BlobStore;
    const images = createImageStore(blobs);
    const [name, args] = ["memtouch", ["2", "30", "200"]] as const;
    const plain = startGuest(name, args, { cpus: 1, seed: 3 });
    const w = { result: await runToEnd(plain.kernel), out: "" };
    w.out = text(plain.chunks);
    const target = createStoreTarget(images, { precopy: { batchPages: 64, followMs: 1 } });
    const g = startGuest(name, args, { cpus: 1, seed: 3, checkpointTarget: target });
    await g.kernel.run({ stopAt: Math.floor(w.result.instructions * 0.1) });
    const session = target.startPrecopy(g.kernel, g.kernel.initPid);
    await session.converged;
    held = true;
    for (let guard = 0; heldPuts === 0 && guard < 1000; guard++) {
      const r = await g.kernel.run({ maxInstructions: 50_000 });
      expect(r.reason).toBe("limit");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(heldPuts).toBeGreaterThan(0); // a batch is in flight
    const checkpointing = target.checkpoint(g.kernel, g.kernel.initPid); // freezes at once
    held = false;
    release();
    const written = await checkpointing;
    await session.close();

    const thawed = await thawGuest(images, written.id, name, {}, [...g.chunks]);
    const r = await runToEnd(thawed.kernel);
    expect(text(thawed.chunks)).toBe(w.out);
    expect([r.instructions, r.digest]).toEqual([w.result.instructions, w.result.digest]);
  }, 30_000);

  it("refuses a second session for the same process, and a process that is not running", async () => {
    const images = memoryImages();
    const target = createStoreTarget(images);
    const g = startGuest("hello", ["x"], {});
    await g.kernel.run({ stopAt: 1000 });
    const session = target.startPrecopy(g.kernel, g.kernel.initPid);
    expect(() => target.startPrecopy(g.kernel, g.kernel.initPid)).toThrow(/already running/);
    expect(() => target.startPrecopy(g.kernel, 999)).toThrow(/no such live process/);
    await session.close();
    expect(await images.list()).toEqual([]);
  });
});
