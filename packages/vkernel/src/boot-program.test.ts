import { readFileSync } from "node:fs";
import { createKernel } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { createVkernelSliceProgram, VKERNEL_PANIC_STATUS } from "./boot-program.ts";

const guestBin = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../host-kernel/guest/bin/${name}.elf`, import.meta.url)));

const decoder = new TextDecoder();

async function onHost(elf: Uint8Array, argv: string[]): Promise<{ out: string; status: number | null }> {
  let out = "";
  const kernel = createKernel({
    console: {
      write: (b) => {
        out += decoder.decode(b);
      },
    },
  });
  kernel.spawn({ path: "/bin/guest", elf, argv });
  const r = await kernel.run({ maxInstructions: 50_000_000 });
  return { out, status: r.exitStatus };
}

async function inVkernel(elf: Uint8Array, argv: string[], memoryBytes?: number) {
  let out = "";
  const program = createVkernelSliceProgram(
    memoryBytes === undefined ? { elf, argv } : { elf, argv, memoryBytes },
  );
  const kernel = createKernel({
    console: {
      write: (b) => {
        out += decoder.decode(b);
      },
    },
    natives: { "/boot/vkernel": program },
  });
  kernel.spawn({ path: "/boot/vkernel", argv: ["vkernel"] });
  const r = await kernel.run({ maxInstructions: 50_000_000 });
  return { out, status: r.exitStatus, reason: r.reason };
}

describe("vkernel slice: one guest on one vCPU through vmspace_ctl", () => {
  it("runs hello with the same output and status as the host", async () => {
    const elf = guestBin("hello");
    const argv = ["hello", "world", "two words"];
    const host = await onHost(elf, argv);
    const vk = await inVkernel(elf, argv);
    expect(host.out).toContain("Hello from a vkc guest!");
    expect(vk.reason).toBe("exited");
    expect(vk.out).toBe(host.out);
    expect(vk.status).toBe(host.status);
  });

  it("passes the guest its own argv", async () => {
    const vk = await inVkernel(guestBin("hello"), ["hello", "x"]);
    expect(vk.out).toContain('argv[1]: "x" (1 bytes)');
    expect(vk.out).toContain("argc: 2");
  });

  it("panics with status 70 when memimage cannot hold the guest", async () => {
    const vk = await inVkernel(guestBin("hello"), ["hello"], 4 * 4096);
    expect(vk.reason).toBe("exited");
    expect(vk.status).toBe(VKERNEL_PANIC_STATUS);
    expect(vk.out).toBe("");
  });

  it("panics with status 70 on bytes that are not an ELF", async () => {
    const vk = await inVkernel(new Uint8Array(64), ["junk"]);
    expect(vk.status).toBe(VKERNEL_PANIC_STATUS);
  });

  it("refuses a memimage size that is not a whole number of pages", () => {
    expect(() => createVkernelSliceProgram({ elf: guestBin("hello"), argv: [], memoryBytes: 1000 })).toThrow(
      /multiple of 4096/,
    );
  });
});
