import { signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import {
  bootVkernel,
  concat,
  innerResult,
  memoryImages,
  runInVkernel,
  type TestGuest,
  thawVkernel,
  vkernelOf,
} from "./vkernel-test-support.ts";

const dec = new TextDecoder();
const THREADS: TestGuest = { program: "threads", args: ["4", "3000"] };

describe("checkpoint protocol", () => {
  for (const vcpus of [1, 2, 4]) {
    it(`SIGCKPTEXIT at t, thaw in a fresh host kernel, run on == uninterrupted (${vcpus} vCPUs)`, async () => {
      const whole = await runInVkernel([THREADS], { vcpus });
      const images = memoryImages();
      const a = bootVkernel([THREADS], { vcpus }, {}, images);
      const mid = await a.kernel.run({ stopAt: Math.floor(whole.result.instructions / 3) });
      expect(mid.reason).toBe("stopped");
      a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
      const first = await a.kernel.run({ maxInstructions: 400_000_000 });
      expect(first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);
      const b = await thawVkernel(images);
      const second = await b.kernel.run({ maxInstructions: 400_000_000 });
      expect(second.reason).toBe("exited");
      expect(dec.decode(concat([...a.chunks, ...b.chunks]))).toBe(dec.decode(whole.out));
      expect(second.exitStatus).toBe(whole.status);
      const vk = vkernelOf(b.kernel);
      expect(vk?.inner.result("exited").digest).toBe(innerResult(whole).digest);
    });

    it(`SIGCKPT at t == no checkpoint (${vcpus} vCPUs)`, async () => {
      const whole = await runInVkernel([THREADS], { vcpus });
      const images = memoryImages();
      const a = bootVkernel([THREADS], { vcpus }, {}, images);
      await a.kernel.run({ stopAt: Math.floor(whole.result.instructions / 2) });
      a.kernel.signalProcess(a.pid, signals.SIGCKPT);
      const r = await a.kernel.run({ maxInstructions: 400_000_000 });
      expect(r.reason).toBe("exited");
      expect(dec.decode(concat(a.chunks))).toBe(dec.decode(whole.out));
      expect(r.exitStatus).toBe(whole.status);
      expect(vkernelOf(a.kernel)?.inner.result("exited").digest).toBe(innerResult(whole).digest);
      expect(await images.resolve("latest")).toMatch(/./);
    });
  }

  it("a SIGCKPTEXIT that comes while a SIGCKPT protocol runs is coalesced into it, upgraded to exit", async () => {
    const whole = await runInVkernel([THREADS], { vcpus: 2 });
    const images = memoryImages();
    const a = bootVkernel([THREADS], { vcpus: 2 }, {}, images);
    await a.kernel.run({ stopAt: Math.floor(whole.result.instructions / 2) });
    a.kernel.signalProcess(a.pid, signals.SIGCKPT);
    a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
    const first = await a.kernel.run({ maxInstructions: 400_000_000 });
    expect(first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);
    const b = await thawVkernel(images);
    const second = await b.kernel.run({ maxInstructions: 400_000_000 });
    expect(dec.decode(concat([...a.chunks, ...b.chunks]))).toBe(dec.decode(whole.out));
    expect(second.exitStatus).toBe(whole.status);
  });
});
