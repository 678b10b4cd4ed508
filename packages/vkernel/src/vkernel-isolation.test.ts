import { createKernel } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { PROBE_BASE, probeElf } from "./__fixtures__/probe-elf.ts";
import { MEMIMG_BASE, PCPU_BASE, SHARED_BASE, STATE_BASE } from "./memimage-layout.ts";
import { VKERNEL_PATH } from "./vkernel-config.ts";
import { createVkernelProgram } from "./vkernel-program.ts";

/** Boot one probe in a vkernel; the vkernel's status is the probe's. */
async function probe(addr: number, write: boolean): Promise<number | null> {
  const kernel = createKernel({
    files: { "/guest/probe": probeElf(addr, write) },
    natives: {
      [VKERNEL_PATH]: createVkernelProgram({
        vcpus: 1,
        memoryBytes: 4 * 1024 * 1024,
        guests: [{ path: "/guest/probe", argv: ["probe"] }],
      }),
    },
  });
  kernel.spawn({ path: VKERNEL_PATH, argv: ["vkernel"] });
  return (await kernel.run({ maxInstructions: 10_000_000 })).exitStatus;
}

describe("isolation: a guest reaches only its own pages", () => {
  it("reads its own text (the probe works)", async () => {
    expect(await probe(PROBE_BASE, false)).toBe(0x7f); // the ELF magic's first byte
  });

  const forbidden: [string, number][] = [
    ["the pcpu area (frames, tokens)", PCPU_BASE],
    ["the shared page and the console ring", SHARED_BASE],
    ["the state region", STATE_BASE],
    ["memimage at its vmspace0 address", MEMIMG_BASE],
    ["memimage's page tables, by their physical address as a virtual one", MEMIMG_BASE + 0x1000],
    ["a page just below the stack's mapping", 0xbf70_0000],
  ];
  for (const [what, addr] of forbidden) {
    for (const write of [false, true]) {
      it(`${write ? "writing" : "reading"} ${what} (0x${addr.toString(16)}) is SIGSEGV`, async () => {
        expect(await probe(addr, write)).toBe(128 + 11);
      });
    }
  }

  it("the same probe on the host dies the same way (the vkernel adds no access)", async () => {
    const kernel = createKernel({});
    kernel.spawn({ path: "/probe", elf: probeElf(STATE_BASE, true), argv: ["probe"] });
    expect((await kernel.run({ maxInstructions: 1_000_000 })).exitStatus).toBe(128 + 11);
  });
});
