import { createImageStore, createMemoryStore, type Manifest } from "@vkc/checkpoint";
import { describe, expect, test } from "vitest";
import { readBootRecord } from "./boot-record.ts";
import {
  renderVkernelHtml,
  renderVkernelText,
  vkernelSection,
  vkernelSectionFrom,
} from "./images-vkernel.ts";

/** The parts of a manifest the section reads: the vkernel process's memimage entry and object. */
const manifest = {
  processes: [
    {
      argv: ["/boot/vkernel"],
      vmspace: { entries: [{ start: 0x4000_0000, end: 0x4040_0000, objectId: 7 }] },
    },
  ],
  objects: [{ id: 7, pages: { indexes: [0, 1, 5] } }],
  extensions: {
    vkcCli: {
      hostExecutables: { "/guest/0": "/x/threads.elf" },
      vkernel: {
        config: {
          vcpus: 2,
          memoryBytes: 0x40_0000,
          guests: [{ path: "/guest/0", argv: ["threads.elf", "4", "100"] }],
          taps: [{ device: "/dev/tap0", address: "10.0.0.2/24" }],
          seed: 1,
        },
        taps: [{ name: "tap0", unit: 0, address: "10.0.0.2/24" }],
        udpBridge: { host: "127.0.0.1", port: 7000 },
      },
    },
  },
} as unknown as Manifest;

/** A view as the vkernel package gives it: registers as an x0..x31 array or by name. */
const view = {
  vcpus: 2,
  memoryBytes: 0x40_0000,
  generation: 3,
  consoleMode: "raw",
  processes: [
    {
      pid: 1,
      ppid: 0,
      comm: "threads",
      state: "active",
      residentPages: 2,
      threads: [
        { tid: 1, state: "runnable", pc: 0x10074, regs: [0, 0x1111, 0x7ffff000, 0, 0x2000] },
        { tid: 2, state: "sleeping", pc: 0x10100, regs: { sp: 0x7fffe000, a0: 5 } },
        {
          tid: 3,
          state: "runnable",
          pc: 0x10200,
          sp: 0x7fffd000,
          tp: 0x3000,
          ra: 0x10,
          a0: 7,
          a7: 93,
          exitStatus: 1,
        },
      ],
    },
  ],
};

describe("vkc images show: the vkernel section", () => {
  test("the boot record round-trips through the image's vkcCli section", () => {
    const boot = readBootRecord(manifest);
    expect(boot?.config.vcpus).toBe(2);
    expect(boot?.taps).toEqual([{ name: "tap0", unit: 0, address: "10.0.0.2/24" }]);
    expect(boot?.udpBridge).toEqual({ host: "127.0.0.1", port: 7000 });
    const plain = { processes: [{ argv: ["/bin/hello.elf"] }], objects: [] } as unknown as Manifest;
    expect(readBootRecord(plain)).toBeNull();
  });

  test("text: vCPUs, memimage, guests, vke, virtual processes with threads and registers", () => {
    const boot = readBootRecord(manifest);
    if (boot === null) throw new Error("no boot record");
    const text = renderVkernelText(vkernelSectionFrom(manifest, boot, view), true).join("\n");
    expect(text).toMatch(
      /^vkernel: 2 vCPU\(s\), memimage 4\.0 MiB \(3 pages resident, 12 KiB\), state generation 3, console raw$/m,
    );
    expect(text).toMatch(/guest 0: threads\.elf 4 100 \(\/guest\/0\)$/m);
    expect(text).toMatch(/vke on \/dev\/tap0 10\.0\.0\.2\/24/);
    expect(text).toMatch(/vproc 1 \(ppid 0\) threads active, 2 pages resident/);
    expect(text).toMatch(/thread 1: pc 0x00010074 sp 0x7ffff000 tp 0x00002000 runnable/);
    expect(text).toMatch(/ra 0x00001111/);
    expect(text).toMatch(/thread 2: pc 0x00010100 sp 0x7fffe000 tp 0x00000000 sleeping/);
    expect(text).toMatch(/a0 0x00000005/);
    // The vkernel package's own shape: registers as fields of the thread.
    expect(text).toMatch(
      /thread 3: pc 0x00010200 sp 0x7fffd000 tp 0x00003000 runnable\n\s+ra 0x00000010\s+a0 0x00000007\s+a7 0x0000005d$/m,
    );
    const short = renderVkernelText(vkernelSectionFrom(manifest, boot, view), false).join("\n");
    expect(short).not.toMatch(/ra 0x/);
  });

  test("without a readable kernel state it says so, and still shows what the boot recorded", () => {
    const boot = readBootRecord(manifest);
    if (boot === null) throw new Error("no boot record");
    const section = vkernelSectionFrom(manifest, boot, null);
    expect(section).toMatchObject({ vcpus: 2, memoryBytes: 0x40_0000, residentPages: 3, processes: null });
    expect(renderVkernelText(section, true).join("\n")).toMatch(/virtual processes: not readable/);
  });

  test("html: data attributes carry the numbers, one row per virtual thread", () => {
    const boot = readBootRecord(manifest);
    if (boot === null) throw new Error("no boot record");
    const html = renderVkernelHtml(vkernelSectionFrom(manifest, boot, view));
    expect(html).toContain('data-vk-vcpus="2"');
    expect(html).toContain('data-vk-resident-pages="3"');
    expect(html).toContain('data-vk-processes="1"');
    expect(html.match(/class="vk-thread"/g)).toHaveLength(3);
    expect(html).toContain("<tr><th>vke</th><td><code>/dev/tap0</code> 10.0.0.2/24</td></tr>");
  });

  test("an image that is not a vkernel has no section", async () => {
    const images = createImageStore(createMemoryStore());
    const plain = { processes: [{ argv: ["/bin/hello.elf"] }], objects: [] } as unknown as Manifest;
    expect(await vkernelSection(images, "latest", plain)).toBeNull();
  });
});
