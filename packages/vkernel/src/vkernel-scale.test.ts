import { type Kernel, signals } from "@vkc/host-kernel";
import { beforeAll, describe, expect, it } from "vitest";
import {
  bootVkernel,
  concat,
  type LawOutcome,
  lawReference,
  memoryImages,
  thawVkernel,
  vkernelOf,
} from "./vkernel-test-support.ts";
import { readVkernelView } from "./vkernel-view.ts";

// Issue #8 target 8 (scale), small: 32 virtual processes and 128 threads, every one alive and
// blocked when the vkernel is checkpointed (bench/bench-scale.ts runs the full 256/1,000).
const PROCS = 32;
const THREADS = 128;
// spawner procs threads pages-per-worker hold-ms: the hold is the window the checkpoint is taken in.
const guests = [{ program: "spawner" as const, args: [String(PROCS), String(THREADS), "2", "1000"] }];
const config = { vcpus: 2, memoryBytes: 64 * 1024 * 1024 };

/** How many of a kernel's processes are alive. */
const countAlive = (k: Kernel | undefined): number =>
  k === undefined ? 0 : [...k.procs.values()].filter((p) => p.state === "alive").length;

describe("vkernel at scale (spawner: 32 processes, 128 threads)", () => {
  let reference: LawOutcome;
  beforeAll(async () => {
    reference = await lawReference(guests, config);
  }, 60_000);

  it("runs to the end uninterrupted", () => {
    expect(reference.status).toBe(0);
    expect(reference.out).toContain(`children: ${PROCS - 1}/${PROCS - 1} ok`);
    expect(reference.out).toContain("spawner ok");
  });

  it("checkpoints with every process and thread alive, thaws, and finishes identically", async () => {
    const images = memoryImages();
    const a = bootVkernel(guests, config, {}, images);
    // The parent prints "all ready" once every worker touched its pages and blocked, then holds:
    // the checkpoint signal is posted from the console write that carries that line.
    let inner: { procs: number; lwps: number } | undefined;
    const push = a.chunks.push.bind(a.chunks);
    a.chunks.push = (...b: Uint8Array[]): number => {
      const n = push(...b);
      if (inner === undefined && new TextDecoder().decode(concat(a.chunks)).includes("all ready")) {
        const k = vkernelOf(a.kernel)?.inner;
        inner = { procs: countAlive(k), lwps: k?.lwps.size ?? 0 };
        a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
      }
      return n;
    };
    const first = await a.kernel.run({ maxInstructions: 400_000_000 });
    expect(inner).toEqual({ procs: PROCS, lwps: THREADS });
    expect(first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);

    const view = await readVkernelView(images, "latest");
    expect(view?.processes.filter((p) => p.state === "alive")).toHaveLength(PROCS);
    expect(view?.processes.reduce((n, p) => n + p.threads.length, 0)).toBe(THREADS);

    const b = await thawVkernel(images, "latest", {}, guests);
    const second = await b.kernel.run({ maxInstructions: 400_000_000 });
    expect(new TextDecoder().decode(concat([...a.chunks, ...b.chunks]))).toBe(reference.out);
    expect(second.exitStatus).toBe(reference.status);
    expect(vkernelOf(b.kernel)?.inner.result("exited").digest).toBe(reference.digest);
  });
});
