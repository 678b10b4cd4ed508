import { signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { bootVkernel, memoryImages, thawVkernel, vkernelOf } from "./vkernel-test-support.ts";

describe("memimage pages are the inner kernel's pages (H1)", () => {
  it("a page the inner kernel wrote through copyout only is in the next incremental host image", async () => {
    const images = memoryImages();
    const a = bootVkernel([{ program: "threads", args: ["3", "3000"] }], { vcpus: 1 }, {}, images);
    await a.kernel.run({ stopAt: 100_000 });
    a.kernel.signalProcess(a.pid, signals.SIGCKPT);
    await a.kernel.run({ stopAt: 200_000 });
    const first = await images.resolve("latest");
    // The inner kernel writes guest memory itself (as a read() into a buffer would).
    const vk = vkernelOf(a.kernel);
    const guest = vk?.inner.procs.get(1);
    const top = 0xc000_0000 - 0x800;
    const mark = new TextEncoder().encode("written by the inner kernel");
    expect(guest?.vm.copyout(top, mark)).toBe(0);
    a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
    await a.kernel.run({ maxInstructions: 400_000_000 });
    const second = await images.resolve("latest");
    expect(second).not.toBe(first);
    expect((await images.readManifest(second)).parent).toBe(first); // incremental
    const b = await thawVkernel(images);
    await b.kernel.run({ maxInstructions: 1 }); // the first step rebuilds the inner kernel
    const thawed = vkernelOf(b.kernel)?.inner.procs.get(1);
    expect(thawed?.vm.copyin(top, mark.length)).toEqual(mark);
  });

  it("the inner kernel's pages live in memimage: freed on exit of their mappings, counted by the allocator", async () => {
    const { kernel } = bootVkernel([{ program: "memtouch", args: [] }], { vcpus: 1 });
    await kernel.run({ maxInstructions: 400_000_000 });
    const vk = vkernelOf(kernel);
    expect(vk).toBeDefined();
    const inner = vk?.inner;
    let resident = 0;
    const seen = new Set<object>();
    for (const p of inner?.procs.values() ?? [])
      for (const e of p.vm.entries) {
        if (seen.has(e.object) || e.object === inner?.sigcode) continue;
        seen.add(e.object);
        for (const [i, page] of e.object.pages) {
          const phys = e.object.phys.get(i) as number;
          expect(vk?.mem.pageForRead(phys)).toBe(page);
          resident++;
        }
      }
    // Guest pages, the zero page, page-table pages of live pmaps: nothing else is allocated.
    expect(vk?.mem.alloc.inUse).toBeGreaterThanOrEqual(resident);
    expect(vk?.mem.alloc.inUse).toBeLessThan(resident + 16);
  });
});
