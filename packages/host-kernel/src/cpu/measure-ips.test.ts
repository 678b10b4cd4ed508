import { describe, expect, it } from "vitest";
import { PAGE_SIZE, Stop } from "./cpu-types.ts";
import { Hart } from "./hart.ts";
import { measureIps } from "./measure-ips.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, DATA_BASE, PROT_RW, PROT_RX, TestMemory } from "./test-memory.ts";

/** A tight compute loop: an LCG-ish mix of add, xor, shift, mul and a branch. Never ends. */
const COMPUTE = [
  A.addi(1, 0, 1),
  A.li(2, 0x9e3779b9),
  A.add(1, 1, 2), // loop:
  A.xor(3, 1, 3),
  A.slli(4, 3, 5),
  A.srli(5, 3, 7),
  A.xor(3, 4, 5),
  A.mul(6, 3, 2),
  A.addi(7, 7, 1),
  A.jal(0, -28),
];

/** A memory-heavy loop: walks 64 KiB (16 pages) loading, adding and storing words. Never ends. */
const MEMORY = [
  A.li(1, DATA_BASE),
  A.li(2, DATA_BASE + 16 * PAGE_SIZE),
  A.add(3, 1, 0), // outer:
  A.lw(4, 3, 0), // inner:
  A.lw(5, 3, 4),
  A.add(4, 4, 5),
  A.addi(4, 4, 1),
  A.sw(4, 3, 0),
  A.sb(4, 3, 5),
  A.addi(3, 3, 8),
  A.bltu(3, 2, -28),
  A.jal(0, -36),
];

function load(program: (number | number[])[], jit: boolean): Hart {
  const mem = new TestMemory();
  mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
  mem.map(DATA_BASE, 17 * PAGE_SIZE, PROT_RW);
  mem.writeWords(CODE_BASE, program.flat());
  const hart = new Hart(mem);
  hart.jit = jit;
  hart.pc = CODE_BASE;
  return hart;
}

describe("interpreter speed (printed, not asserted)", () => {
  for (const [name, program, jit] of [
    ["compute loop", COMPUTE, false],
    ["memory loop", MEMORY, false],
    ["compute loop (translated blocks)", COMPUTE, true],
    ["memory loop (translated blocks)", MEMORY, true],
  ] as const) {
    it(`${name}`, () => {
      const hart = load(program, jit);
      measureIps(hart, 2_000_000); // warm up the JIT
      const m = measureIps(hart, 30_000_000);
      expect(m.stop).toBe(Stop.Budget);
      expect(m.retired).toBe(30_000_000);
      console.log(
        `${name}: ${(m.ips / 1e6).toFixed(1)} M instructions/s (${m.retired} in ${m.seconds.toFixed(2)} s)`,
      );
    });
  }
});
