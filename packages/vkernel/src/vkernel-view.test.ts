import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import { createKernel, createStoreTarget, guestProgram, signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { bootVkernel, memoryImages } from "./vkernel-test-support.ts";
import { readVkernelView } from "./vkernel-view.ts";

describe("readVkernelView", () => {
  it("shows the inner processes, threads and registers of a vkernel image", async () => {
    const images = memoryImages();
    const a = bootVkernel([{ program: "threads", args: ["3", "1500"] }], { vcpus: 2 }, {}, images);
    await a.kernel.run({ stopAt: 150_000 });
    a.kernel.signalProcess(a.pid, signals.SIGCKPT);
    await a.kernel.run({ maxInstructions: 400_000_000 });
    const view = await readVkernelView(images, "latest");
    expect(view).not.toBeNull();
    expect(view?.vcpus).toBe(2);
    expect(view?.memoryBytes).toBe(64 * 1024 * 1024);
    expect(view?.generation).toBe(1);
    expect(view?.residentPages).toBeGreaterThan(10);
    const p = view?.processes[0];
    expect(p?.comm).toBe("threads");
    expect(p?.pid).toBe(1);
    expect(p?.residentPages).toBeGreaterThan(5);
    expect(p?.threads.length).toBeGreaterThanOrEqual(2);
    expect(p?.threads[0]?.pc).toBeGreaterThan(0x10000);
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });

  it("is null for an image of an ordinary process", async () => {
    const images = createImageStore(createMemoryStore());
    const k = createKernel({ checkpointTarget: createStoreTarget(images) });
    const pid = k.spawn({
      path: "/bin/threads",
      elf: guestProgram("threads"),
      argv: ["threads", "2", "1000"],
    });
    await k.run({ stopAt: 20_000 });
    k.signalProcess(pid, signals.SIGCKPT);
    await k.run({ maxInstructions: 50_000 });
    expect(await readVkernelView(images, "latest")).toBeNull();
  });
});
