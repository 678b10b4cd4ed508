/**
 * Scale (issue #8 target 8): a vkernel with 256 virtual processes and 1,000 threads checkpoints
 * and restores, and the cost grows linearly with processes, threads and pages.
 *
 * The guest is `spawner P T pages`: P processes (fork), T threads in all, each worker thread
 * touching `pages` pages; the checkpoint (SIGCKPTEXIT) is posted from the console write of its
 * "all ready" line, when every process and thread exists and is blocked. Per point: checkpoint
 * time (signal → image written: the vkernel's protocol with describe + state-region encode, then
 * the host freeze), restore time (thawProcess, then the vkernel's first step, which decodes the
 * state region and rebuilds the inner kernel), the state region's payload size and the image's
 * bytes written (deterministic: their slopes are exact).
 *
 * Times are CPU time of the bench process (user + system; wall time is printed beside it on
 * stderr): the machine is shared, and wall time there mostly measures the neighbours.
 * Sweeps: a scale series (32/125 .. 256/1000, 2 pages per worker); processes (16..256, each with
 * its main thread, plus 128 workers in all, no pages); threads (64..1024 in 32 processes, no
 * pages); pages per worker (1..16 at 64/250; x = worker pages in all). Each sweep prints its
 * least-squares slope, r² and the ratio of the per-unit costs at its ends (see `fit`; ~1 =
 * linear, >1 = growing faster). Best of two runs per point (VKC_BENCH_SCALE_REPS=N: best of N);
 * VKC_BENCH_SCALE_QUICK=1 runs only two small points per sweep.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createImageStore, createMemoryStore, type ImageStore } from "@vkc/checkpoint";
import {
  type CheckpointWritten,
  createKernel,
  createStoreTarget,
  type Kernel,
  signals,
  thawProcess,
} from "@vkc/host-kernel";
import { createVkernelProgram, STATE_BASE, VKERNEL_PATH, type VkernelConfig } from "@vkc/vkernel";
import type { Benchmark, BenchRow } from "./harness.ts";

const BIN = join(import.meta.dirname, "..", "packages", "host-kernel", "guest", "bin");
const MIB = 1024 * 1024;
const REPS = Math.max(1, Number(process.env.VKC_BENCH_SCALE_REPS ?? "2"));
const QUICK = process.env.VKC_BENCH_SCALE_QUICK === "1";

/** CPU time (user + system) this process has used, in milliseconds. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One measured configuration. */
export interface ScalePoint {
  procs: number;
  threads: number;
  pages: number;
  /** CPU time of this process (user + system): steadier than wall time on a shared machine. */
  checkpointMs: number;
  restoreMs: number;
  checkpointWallMs: number;
  restoreWallMs: number;
  stateBytes: number;
  imageBytes: number;
}

/** The state region's payload length, from its header page in the image. */
async function stateBytesOf(images: ImageStore, id: string): Promise<number> {
  const manifest = await images.readManifest(id);
  const entry = manifest.processes[0]?.vmspace.entries.find((e) => e.start === STATE_BASE);
  if (entry?.objectId === undefined) throw new Error("the image has no state region");
  const page = await images.readPage(id, entry.objectId, entry.offset);
  return new DataView(page.buffer, page.byteOffset, page.byteLength).getUint32(12, true);
}

/** Boot spawner in a vkernel, checkpoint it when all are ready, thaw it: one point. */
async function measure(procs: number, threads: number, pages: number): Promise<ScalePoint> {
  const elf = readFileSync(join(BIN, "spawner.elf"));
  const images = createImageStore(createMemoryStore());
  let writtenAt = 0;
  let writtenCpu = 0;
  const written: CheckpointWritten[] = [];
  const target = createStoreTarget(images, {
    onWritten: (w) => {
      writtenAt = performance.now();
      writtenCpu = cpuMs();
      written.push(w);
    },
  });
  const config: VkernelConfig = {
    vcpus: 2,
    memoryBytes: 256 * MIB,
    guests: [
      { path: "/guest/spawner", argv: ["spawner", String(procs), String(threads), String(pages), "1000"] },
    ],
  };
  let text = "";
  let signalledAt = 0;
  let signalledCpu = 0;
  let kernel: Kernel | undefined;
  let pid = 0;
  kernel = createKernel({
    console: {
      write: (b) => {
        if (signalledAt !== 0) return;
        text += new TextDecoder().decode(b);
        if (text.includes("all ready")) {
          signalledAt = performance.now();
          signalledCpu = cpuMs();
          kernel?.signalProcess(pid, signals.SIGCKPTEXIT);
        }
      },
    },
    files: { "/guest/spawner": elf },
    natives: { [VKERNEL_PATH]: createVkernelProgram(config) },
    checkpointTarget: target,
  });
  pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
  const first = await kernel.run({ maxInstructions: 2_000_000_000 });
  const image = written[0];
  if (first.exitStatus !== 128 + signals.SIGCKPTEXIT || image === undefined)
    throw new Error(
      `spawner ${procs} ${threads} ${pages}: no checkpoint (${first.reason}, ${first.exitStatus})`,
    );
  const stateBytes = await stateBytesOf(images, image.id);

  const t0 = performance.now();
  const c0 = cpuMs();
  const thawed = await thawProcess(images, image.id, {
    files: { "/guest/spawner": elf },
    console: { write: () => {} },
    natives: { [VKERNEL_PATH]: createVkernelProgram() },
  });
  // The vkernel rebuilds its inner kernel when its process first runs: one small step does it.
  await thawed.kernel.run({ maxInstructions: 1 });
  return {
    procs,
    threads,
    pages,
    checkpointMs: writtenCpu - signalledCpu,
    restoreMs: cpuMs() - c0,
    checkpointWallMs: writtenAt - signalledAt,
    restoreWallMs: performance.now() - t0,
    stateBytes,
    imageBytes: image.stats.bytesWritten,
  };
}

async function best(procs: number, threads: number, pages: number): Promise<ScalePoint> {
  let p = await measure(procs, threads, pages);
  for (let i = 1; i < REPS; i++) {
    const q = await measure(procs, threads, pages);
    p = {
      ...p,
      checkpointMs: Math.min(p.checkpointMs, q.checkpointMs),
      restoreMs: Math.min(p.restoreMs, q.restoreMs),
      checkpointWallMs: Math.min(p.checkpointWallMs, q.checkpointWallMs),
      restoreWallMs: Math.min(p.restoreWallMs, q.restoreWallMs),
    };
  }
  const ms = (cpu: number, wall: number) => `${cpu.toFixed(0)} ms CPU (${wall.toFixed(0)} wall)`;
  process.stderr.write(
    `bench-scale: ${procs}/${threads}/${pages}: checkpoint ${ms(p.checkpointMs, p.checkpointWallMs)}, restore ${ms(p.restoreMs, p.restoreWallMs)}, state ${p.stateBytes} B, image ${p.imageBytes} B\n`,
  );
  return p;
}

/**
 * Least squares y = a + b·x (x ascending, > 0), with r² and the end ratio: the per-unit cost y/x
 * at the largest x over the per-unit cost at the smallest. A linear cost with a fixed part gives
 * at most 1; a quadratic one over a doubling series about the ratio of the x range (8 over
 * 32..256). Differences of small noisy timings are not used: they swing with the noise.
 */
export function fit(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number; r2: number; endRatio: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    const dy = (ys[i] ?? 0) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  const unit = (i: number) => (ys[i] ?? 0) / (xs[i] || 1);
  const endRatio = n < 2 || unit(0) === 0 ? 1 : unit(n - 1) / unit(0);
  return { slope, intercept, r2, endRatio };
}

type Metric = "checkpointMs" | "restoreMs" | "stateBytes" | "imageBytes";
const METRICS: readonly [Metric, string][] = [
  ["checkpointMs", "ms"],
  ["restoreMs", "ms"],
  ["stateBytes", "B"],
  ["imageBytes", "B"],
];

/** One row per metric of a sweep: the slope per unit of `x`, with r² and the end ratio. */
function sweepRows(
  sweep: string,
  unit: string,
  points: readonly ScalePoint[],
  x: (p: ScalePoint) => number,
): BenchRow[] {
  const xs = points.map(x);
  return METRICS.map(([metric, u]) => {
    const f = fit(
      xs,
      points.map((p) => p[metric]),
    );
    return {
      name: `scale: ${metric} per ${unit} (${sweep})`,
      value: f.slope,
      unit: `${u}/${unit}`,
      ratio: f.endRatio,
      target: { max: 1.5, description: "per-unit cost at the largest point <= 1.5x the smallest's" },
      note: `r2 ${f.r2.toFixed(4)}, intercept ${f.intercept.toFixed(1)} ${u}`,
    };
  });
}

export const scaleBenchmark: Benchmark = {
  name: "scale",
  async run(): Promise<BenchRow[]> {
    await measure(8, 32, 2); // warm-up
    const scale = QUICK ? [32, 64] : [32, 64, 128, 256];
    const series = [];
    for (const p of scale) series.push(await best(p, Math.round((p * 1000) / 256), 2));
    const procs = [];
    for (const p of QUICK ? [16, 32] : [16, 64, 128, 256]) procs.push(await best(p, p + 128, 0));
    const threads = [];
    for (const t of QUICK ? [64, 128] : [64, 256, 512, 1024]) threads.push(await best(32, t, 0));
    const pages = [];
    for (const n of QUICK ? [1, 4] : [1, 4, 8, 16]) pages.push(await best(64, 250, n));

    const top = series[series.length - 1];
    const rows: BenchRow[] = [];
    if (top !== undefined) {
      rows.push({
        name: `scale: ${top.procs} processes / ${top.threads} threads: checkpoint`,
        value: top.checkpointMs,
        unit: "ms",
        note: `state region ${(top.stateBytes / 1024).toFixed(0)} KiB, image ${(top.imageBytes / MIB).toFixed(2)} MiB`,
      });
      rows.push({
        name: `scale: ${top.procs} processes / ${top.threads} threads: restore`,
        value: top.restoreMs,
        unit: "ms",
      });
    }
    const workerPages = (p: ScalePoint) => (p.threads - p.procs) * p.pages;
    rows.push(...sweepRows("scale series, 2 pages/worker", "process", series, (p) => p.procs));
    rows.push(...sweepRows("+128 workers, 0 pages", "process", procs, (p) => p.procs));
    rows.push(...sweepRows("32 processes, 0 pages", "thread", threads, (p) => p.threads));
    rows.push(...sweepRows("64/250", "page", pages, workerPages));
    return rows;
  },
};
