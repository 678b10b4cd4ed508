/**
 * Live checkpoint (issue #8 target 6): the stop-the-world pause of a checkpoint of a vkernel with
 * a 512 MiB memimage whose guests keep memory resident and dirty it steadily, with pre-copy
 * (`StoreTarget.startPrecopy`: rounds while the vkernel runs, then the freeze streams only what
 * was dirtied since its capture) beside stop-and-copy (the freeze streams every page), in one run.
 * Target: pre-copy pause < 0.1 of stop-and-copy's.
 *
 * The vkernel runs two guests: `memtouch A 100 1` touches A MiB once and then reads it all back
 * (resident, not dirtied), and `memtouch B P 1000000` dirties P% of its B MiB every round, for
 * ever. Both modes boot the same vkernel and run it to the same point (A's first round printed);
 * the pause is the host freeze of the vkernel process (the end of its checkpoint protocol, where
 * the memimage is written), measured by the store target (`CheckpointWritten.pauseMs`). Images go
 * to an in-memory store (the store's own speed is bench-store's subject). Sizes:
 * VKC_BENCH_PRECOPY_MIB (memimage, default 512), VKC_BENCH_PRECOPY_RESIDENT (A, default 400),
 * VKC_BENCH_PRECOPY_DIRTY (B and P, default "32,10").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import { type CheckpointWritten, createKernel, createStoreTarget } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH, type VkernelConfig } from "@vkc/vkernel";
import type { Benchmark, BenchRow } from "./harness.ts";

const BIN = join(import.meta.dirname, "..", "packages", "host-kernel", "guest", "bin");
const MIB = 1024 * 1024;
const MEMORY_MIB = Number(process.env.VKC_BENCH_PRECOPY_MIB ?? "512");
const RESIDENT_MIB = process.env.VKC_BENCH_PRECOPY_RESIDENT ?? "400";
const [DIRTY_MIB, DIRTY_PERCENT] = (process.env.VKC_BENCH_PRECOPY_DIRTY ?? "32,10").split(",") as [
  string,
  string,
];

interface Pause {
  written: CheckpointWritten;
  /** Resident pages in the image. */
  pages: number;
}

/** Boot the vkernel, run it until guest A has touched its memory, checkpoint it (with pre-copy or not). */
async function pause(precopy: boolean, residentMib = RESIDENT_MIB): Promise<Pause> {
  const images = createImageStore(createMemoryStore());
  const target = createStoreTarget(images, { refs: [] });
  const elf = readFileSync(join(BIN, "memtouch.elf"));
  const config: VkernelConfig = {
    vcpus: 1,
    memoryBytes: MEMORY_MIB * MIB,
    guests: [
      { path: "/guest/0", argv: ["memtouch", residentMib, "100", "1"] },
      { path: "/guest/0", argv: ["memtouch", DIRTY_MIB, DIRTY_PERCENT, "1000000"] },
    ],
  };
  let output = "";
  const kernel = createKernel({
    console: { write: (b) => (output += Buffer.from(b).toString("latin1")) },
    files: { "/guest/0": elf },
    natives: { [VKERNEL_PATH]: createVkernelProgram(config) },
    checkpointTarget: target,
  });
  const pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
  // Guest A's first round dirties every one of its pages (the other guest prints rounds too).
  const ready = `round 1: dirtied ${Number(residentMib) * 256} pages`;
  const touched = () => output.includes(ready);

  for (let guard = 0; !touched(); guard++) {
    const r = await kernel.run({ maxInstructions: 2_000_000 });
    if (r.reason !== "limit" || guard > 100_000) throw new Error(`the vkernel ended early (${r.reason})`);
  }
  // The same amount of guest time before each checkpoint: pre-copy's rounds run meanwhile.
  // Between runs, a turn of the event loop: a short run is one synchronous batch of slices, and
  // the pre-copy's hashing replies and timers need the loop (Kernel.run yields between batches).
  const runFor = async (instructions: number) => {
    const r = await kernel.run({ maxInstructions: instructions });
    if (r.reason !== "limit") throw new Error(`the vkernel ended early (${r.reason})`);
    await new Promise((resolve) => setImmediate(resolve));
  };
  if (precopy) {
    const session = target.startPrecopy(kernel, pid);
    let converged = false;
    void session.converged.then(() => {
      converged = true;
    });
    while (!converged) await runFor(100_000);
  }
  await runFor(2_000_000);
  const written = await target.checkpoint(kernel, pid, { cause: "host" });
  const manifest = await images.readManifest(written.id);
  const pages = manifest.objects.reduce((n, o) => n + o.pages.indexes.length, 0);
  return { written, pages };
}

export const precopyBenchmark: Benchmark = {
  name: "precopy",
  async run(): Promise<BenchRow[]> {
    await pause(true, "8"); // warm-up (V8, hash workers), small
    const stop = await pause(false);
    const pre = await pause(true);
    const stopMs = stop.written.pauseMs ?? Number.NaN;
    const preMs = pre.written.pauseMs ?? Number.NaN;
    const rounds = pre.written.precopy?.roundPages ?? [];
    return [
      {
        name: `live checkpoint: pause, vkernel ${MEMORY_MIB} MiB memimage (${pre.pages} pages), pre-copy`,
        value: preMs,
        unit: "ms",
        baseline: { name: "stop-and-copy", value: stopMs },
        ratio: preMs / stopMs,
        target: { max: 0.1, description: "pre-copy pause <= 0.1x stop-and-copy's" },
        note:
          `pages streamed at the freeze ${pre.written.stats.pagesIn} vs ${stop.written.stats.pagesIn}; ` +
          `rounds ${rounds.join("/")} pages; guests memtouch ${RESIDENT_MIB} MiB resident + ` +
          `${DIRTY_MIB} MiB dirtied ${DIRTY_PERCENT}%/round; host freeze of the vkernel process, memory store`,
      },
    ];
  },
};
