import { type Kernel, signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { readVkernelView } from "./vkernel-view.ts";
import {
  bootVkernel,
  concat,
  type LawOutcome,
  lawReference,
  memoryImages,
  thawVkernel,
  vkernelOf,
} from "./vkernel-test-support.ts";

// Issue #8 target 8 (scale), small: 32 virtual processes and 128 threads, every one alive and
// blocked when the vkernel is checkpointed (bench/bench-scale.ts runs the full 256/1,000).
const PROCS = 32;
const THREADS = 128;
// spawner procs threads pages-per-worker hold-ms: the hold is the window the checkpoint is taken in.
const guests = [{ program: "spawner" as const, args: [String(PROCS), String(THREADS), "2", "1000"] }];
const config = { vcpus: 2, memoryBytes: 64 * 1024 * 1024 };

/** Every process and thread exists and sleeps: the parent printed "all ready" and holds. */
function allBlocked(kernel: Kernel): boolean {
  const inner = vkernelOf(kernel)?.inner;
  if (inner === undefined) return false;
  const lwps = [...inner.lwps.values()];
  return (
    [...inner.procs.values()].filter((p) => p.state === "alive").length === PROCS &&
    lwps.length === THREADS &&
    lwps.every((l) => l.state === "sleeping")
  );
}

describe("vkernel at scale (spawner: 32 processes, 128 threads)", () => {
  let reference: LawOutcome;

  it("runs to the end uninterrupted", async () => {
    reference = await lawReference(guests, config);
    expect(reference.status).toBe(0);
    expect(reference.out).toContain(`children: ${PROCS - 1}/${PROCS - 1} ok`);
    expect(reference.out).toContain("spawner ok");
  });

  it("checkpoints with every process and thread alive, thaws, and finishes identically", async () => {
    const images = memoryImages();
    const a = bootVkernel(guests, config, {}, images);
    let reached = false;
    for (let i = 0; i < 2_000 && !reached; i++) {
      const r = await a.kernel.run({ maxInstructions: 20_000 });
      expect(r.reason).toBe("limit");
      reached = allBlocked(a.kernel);
    }
    expect(reached).toBe(true);
    a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
    const first = await a.kernel.run({ maxInstructions: 400_000_000 });
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
