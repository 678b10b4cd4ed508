/**
 * The vkernel (ARCHITECTURE §4, issue "vkernel"): (1) the same compute guest (primes) as a
 * virtual process of a 1-vCPU vkernel beside the same guest on the host kernel, CPU time, in one
 * run (target: >= 0.7 of the host's speed); (2) checkpoint and restore wall time of a vkernel
 * whose guest touched the same 4 MiB, with a 64 MiB and a 512 MiB memimage, side by side (only
 * touched pages should cost: the two should be close).
 *
 * The checkpoint is the vkernel's own (SIGCKPT: its protocol, then the host freeze through the
 * store target); while the vkernel's protocol writes no image yet, the row measures the host
 * freeze of the vkernel process instead and says so. Restore = thaw into a fresh host kernel
 * (reading and checking every page). Images go to an in-memory store: the store's own speed is
 * bench-store's subject. Each figure is the best of several runs after a warm-up, host and vkernel
 * runs alternating. VKC_BENCH_VK_PRIMES sets the primes bound (default 2000000),
 * VKC_BENCH_VK_ROUNDS the compute rounds (default 5).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import {
  type CheckpointWritten,
  createKernel,
  createStoreTarget,
  signals,
  thawProcess,
} from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH, type VkernelConfig, vkernelImageSection } from "@vkc/vkernel";
import type { Benchmark, BenchRow } from "./harness.ts";

const BIN = join(import.meta.dirname, "..", "packages", "host-kernel", "guest", "bin");
const MIB = 1024 * 1024;
const PRIMES = process.env.VKC_BENCH_VK_PRIMES ?? "2000000";
/** Alternating host/vkernel runs of the compute guest (VKC_BENCH_VK_ROUNDS, default 5). */
const COMPUTE_ROUNDS = Math.max(1, Number(process.env.VKC_BENCH_VK_ROUNDS ?? 5));

/** A vkernel on a fresh host kernel, running `elf argv` as its one guest. */
function bootKernel(
  elf: Uint8Array,
  argv: string[],
  memoryBytes: number,
  target?: ReturnType<typeof createStoreTarget>,
  onOutput?: () => void,
) {
  const config: VkernelConfig = { vcpus: 1, memoryBytes, guests: [{ path: "/guest/0", argv }] };
  const kernel = createKernel({
    console: { write: () => onOutput?.() },
    files: { "/guest/0": elf },
    natives: { [VKERNEL_PATH]: createVkernelProgram(config) },
    ...(target === undefined ? {} : { checkpointTarget: target }),
  });
  const pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
  return { kernel, pid };
}

async function hostMs(elf: Uint8Array, argv: string[]): Promise<{ ms: number; instructions: number }> {
  const kernel = createKernel({ files: { "/bin/prog": elf } });
  kernel.spawn({ path: "/bin/prog", elf, argv: ["/bin/prog", ...argv] });
  const t0 = cpuMs();
  const r = await kernel.run();
  if (r.exitStatus !== 0) throw new Error(`host primes exited ${r.exitStatus} (${r.reason})`);
  return { ms: cpuMs() - t0, instructions: r.instructions };
}

async function vkernelMs(elf: Uint8Array, argv: string[]): Promise<number> {
  const { kernel } = bootKernel(elf, ["primes", ...argv], 64 * MIB);
  const t0 = cpuMs();
  const r = await kernel.run();
  if (r.exitStatus !== 0) throw new Error(`primes in the vkernel exited ${r.exitStatus} (${r.reason})`);
  return cpuMs() - t0;
}

/** This process's CPU time (user + system) in ms: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface CkptTiming {
  checkpointMs: number;
  restoreMs: number;
  bytes: number;
  how: "vkernel protocol (SIGCKPT)" | "host freeze";
}

/** Boot memtouch (4 MiB touched) in a vkernel with `memoryBytes`, checkpoint it once it has touched its pages, thaw it. */
async function checkpointRestore(memoryBytes: number): Promise<CkptTiming> {
  const images = createImageStore(createMemoryStore());
  const written: CheckpointWritten[] = [];
  // vkernel-kind images: the vkernel's own section, as `vkc` writes them.
  const target = createStoreTarget(images, {
    vkernel: vkernelImageSection,
    onWritten: (w) => written.push(w),
  });
  const elf = readFileSync(join(BIN, "memtouch.elf"));
  // Round 1 dirties every page of the 4 MiB and prints a line; round 2 reads them back.
  let printed = false;
  const { kernel, pid } = bootKernel(elf, ["memtouch", "4", "100", "2"], memoryBytes, target, () => {
    printed = true;
  });
  while (!printed) {
    const r = await kernel.run({ maxInstructions: 200_000 });
    if (r.reason !== "limit") throw new Error(`memtouch in the vkernel ended early (${r.reason})`);
  }
  let how: CkptTiming["how"] = "vkernel protocol (SIGCKPT)";
  let t0 = performance.now();
  kernel.signalProcess(pid, signals.SIGCKPT);
  // The vkernel writes its image while it runs on: run in small steps until it is committed.
  for (let step = 0; written.length === 0 && step < 500; step++) {
    const r = await kernel.run({ maxInstructions: 10_000 });
    if (r.reason === "exited") break;
  }
  if (written.length === 0) {
    how = "host freeze";
    t0 = performance.now();
    await target.checkpoint(kernel, pid, { cause: "host" });
  }
  const checkpointMs = performance.now() - t0;
  const image = written[0];
  if (image === undefined) throw new Error("no image written");
  const t1 = performance.now();
  await thawProcess(images, image.id, {
    files: { "/guest/0": elf },
    natives: { [VKERNEL_PATH]: createVkernelProgram() },
  });
  const restoreMs = performance.now() - t1;
  return { checkpointMs, restoreMs, bytes: image.stats.bytesWritten, how };
}

/** Each time at its best of `a` and `b`. */
function bestOf(a: CkptTiming, b: CkptTiming): CkptTiming {
  return {
    ...a,
    checkpointMs: Math.min(a.checkpointMs, b.checkpointMs),
    restoreMs: Math.min(a.restoreMs, b.restoreMs),
  };
}

export const vkernelBenchmark: Benchmark = {
  name: "vkernel",
  async run(): Promise<BenchRow[]> {
    const primes = readFileSync(join(BIN, "primes.elf"));
    const argv = [PRIMES];
    // Warm-ups, then host and vkernel runs alternating (the machine is shared and its load
    // changes by the second: a pair measured back to back sees the same), the best of each.
    const host = await hostMs(primes, argv);
    await vkernelMs(primes, argv);
    let hostBest = host.ms;
    let vkBest = Number.POSITIVE_INFINITY;
    for (let round = 0; round < COMPUTE_ROUNDS; round++) {
      hostBest = Math.min(hostBest, (await hostMs(primes, argv)).ms);
      vkBest = Math.min(vkBest, await vkernelMs(primes, argv));
    }
    const rows: BenchRow[] = [
      {
        name: `vkernel: compute (primes ${PRIMES}) inside vs on the host`,
        value: vkBest,
        unit: "ms",
        baseline: { name: "host kernel", value: hostBest },
        ratio: hostBest / vkBest,
        target: { min: 0.7, description: "0.7 of the host's speed" },
        note: `${(host.instructions / 1e6).toFixed(1)}M guest instructions`,
      },
    ];
    // A warm-up, then the best of three of each, alternating sizes (the machine is shared).
    await checkpointRestore(64 * MIB);
    let small = await checkpointRestore(64 * MIB);
    let large = await checkpointRestore(512 * MIB);
    for (let i = 0; i < 2; i++) {
      small = bestOf(small, await checkpointRestore(64 * MIB));
      large = bestOf(large, await checkpointRestore(512 * MIB));
    }
    for (const [what, key] of [
      ["checkpoint", "checkpointMs"],
      ["restore", "restoreMs"],
    ] as const) {
      rows.push({
        name: `vkernel: ${what}, 512 MiB vs 64 MiB memimage (4 MiB touched)`,
        value: large[key],
        unit: "ms",
        baseline: { name: "64 MiB memimage", value: small[key] },
        ratio: small[key] / large[key],
        note: `${large.how}; ${(large.bytes / MIB).toFixed(1)} vs ${(small.bytes / MIB).toFixed(1)} MiB written`,
      });
    }
    return rows;
  },
};
