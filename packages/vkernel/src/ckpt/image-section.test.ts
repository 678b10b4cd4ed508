import { createKernel, createStoreTarget, guestProgram, signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { STATE_BASE } from "../memimage-layout.ts";
import { bootVkernel, memoryImages } from "../vkernel-test-support.ts";
import { readVkernelView } from "../vkernel-view.ts";
import { readVkernelSection, vkernelImageSection } from "./image-section.ts";

describe("kind vkernel images", () => {
  it("a vkernel's freeze writes kind vkernel and a map matching its state region", async () => {
    const images = memoryImages();
    const a = bootVkernel([{ program: "threads", args: ["3", "1500"] }], { vcpus: 2 }, {}, images);
    await a.kernel.run({ stopAt: 150_000 });
    a.kernel.signalProcess(a.pid, signals.SIGCKPT);
    await a.kernel.run({ maxInstructions: 400_000_000 });
    const manifest = await images.readManifest(await images.resolve("latest"));
    expect(manifest.kind).toBe("vkernel");
    const section = readVkernelSection(manifest);
    const view = await readVkernelView(images, "latest");
    expect(section).toMatchObject({ version: 1, stateAddress: STATE_BASE, vcpus: 2, memoryBytes: 64 << 20 });
    expect(section?.generation).toBe(view?.generation);
    expect(section?.sha256).toBe(view?.sha256);
    expect(section?.stateLength).toBeGreaterThan(64);
  });

  it("an ordinary process stays kind process", async () => {
    const images = memoryImages();
    const k = createKernel({ checkpointTarget: createStoreTarget(images, { vkernel: vkernelImageSection }) });
    const pid = k.spawn({
      path: "/bin/threads",
      elf: guestProgram("threads"),
      argv: ["threads", "2", "1000"],
    });
    await k.run({ stopAt: 20_000 });
    expect(vkernelImageSection(k, pid)).toBeUndefined();
    k.signalProcess(pid, signals.SIGCKPT);
    await k.run({ maxInstructions: 50_000 });
    const manifest = await images.readManifest(await images.resolve("latest"));
    expect(manifest.kind).toBe("process");
    expect(readVkernelSection(manifest)).toBeNull();
  });

  it("refuses a malformed map in one line", () => {
    const good = {
      version: 1,
      state: { address: STATE_BASE, length: 100, version: 1, generation: 1, sha256: "ab".repeat(32) },
      vcpus: 1,
      memoryBytes: 1 << 20,
    };
    expect(readVkernelSection({ kind: "vkernel", vkernel: good })?.generation).toBe(1);
    const bad = [
      undefined,
      { ...good, version: 2 },
      { ...good, state: 3 },
      { ...good, vcpus: -1 },
      { ...good, state: { ...good.state, sha256: "xyz" } },
      { ...good, state: { ...good.state, generation: 0 } },
    ];
    for (const vkernel of bad) {
      const manifest =
        vkernel === undefined ? { kind: "vkernel" as const } : { kind: "vkernel" as const, vkernel };
      expect(() => readVkernelSection(manifest)).toThrow(/^vkernel state region: image vkernel map: [^\n]+$/);
    }
  });
});
