import type { CborMap } from "@vkc/checkpoint";
import { describe, expect, it } from "vitest";
import type { Kernel } from "../kernel.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages, startGuest, thawGuest } from "./ckpt-test-support.ts";

describe("createStoreTarget extensions", () => {
  it("a function of (kernel, pid) is evaluated at each checkpoint and lands in the manifest", async () => {
    const images = memoryImages();
    const calls: [Kernel, number][] = [];
    const target = createStoreTarget(images, {
      extensions: (kernel, pid): CborMap => {
        calls.push([kernel, pid]);
        return { vkernel: { v: 1, at: kernel.instructions } };
      },
    });
    const g = startGuest("threads", ["4", "1000"], {});
    const pid = g.kernel.initPid;
    await g.kernel.run({ stopAt: 50_000 });
    const first = await target.checkpoint(g.kernel, pid);
    await g.kernel.run({ stopAt: 90_000 });
    const second = await target.checkpoint(g.kernel, pid);
    expect(calls).toEqual([
      [g.kernel, pid],
      [g.kernel, pid],
    ]);
    const a = await images.readManifest(first.id);
    const b = await images.readManifest(second.id);
    expect(a.extensions?.vkernel).toEqual({ v: 1, at: 50_000 });
    expect(b.extensions?.vkernel).toEqual({ v: 1, at: 90_000 });
    expect(b.extensions?.hostKernel).toBeDefined(); // the kernel's own section is still there
  });

  it("a plain map still works", async () => {
    const images = memoryImages();
    const g = startGuest("hello", ["x"], {});
    await g.kernel.run({ stopAt: 1_000 });
    const w = await createStoreTarget(images, { extensions: { cli: { exe: "/host/hello.elf" } } }).checkpoint(
      g.kernel,
      g.kernel.initPid,
    );
    expect((await images.readManifest(w.id)).extensions?.cli).toEqual({ exe: "/host/hello.elf" });
  });

  it("a vkernel map makes the image kind vkernel, and it still thaws", async () => {
    const images = memoryImages();
    const g = startGuest("hello", ["x"], {});
    await g.kernel.run({ stopAt: 1_000 });
    const map: CborMap = { version: 1, vcpus: 1 };
    const target = createStoreTarget(images, {
      vkernel: (_k, pid) => (pid === g.kernel.initPid ? map : undefined),
    });
    const w = await target.checkpoint(g.kernel, g.kernel.initPid);
    const manifest = await images.readManifest(w.id);
    expect(manifest.kind).toBe("vkernel");
    expect(manifest.vkernel).toEqual(map);
    const thawed = await thawGuest(images, w.id, "hello");
    expect(thawed.kernel.procs.get(thawed.kernel.initPid)?.state).toBe("alive");
  });
});
