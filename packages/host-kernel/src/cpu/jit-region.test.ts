import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Fault, PAGE_SIZE, Stop } from "./cpu-types.ts";
import { existingDecodedPage } from "./decode-cache.ts";
import { Hart } from "./hart.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, DATA_BASE, PROT_RW, PROT_RX, TestMemory } from "./test-memory.ts";

/** Code at CODE_BASE, two data pages at DATA_BASE (x8 points there), translation as asked. */
function machine(
  words: readonly number[],
  jit: boolean,
  regs: readonly number[] = [],
): { hart: Hart; mem: TestMemory } {
  const mem = new TestMemory();
  mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
  mem.map(DATA_BASE, 2 * PAGE_SIZE, PROT_RW);
  mem.writeWords(CODE_BASE, words);
  const hart = new Hart(mem);
  hart.jit = jit;
  hart.jitThreshold = 0;
  hart.pc = CODE_BASE;
  regs.forEach((v, i) => {
    hart.x[i + 1] = v;
  });
  hart.x[8] = DATA_BASE;
  return { hart, mem };
}

/** Run both paths slice by slice and require the same stops, counts, pcs, registers, memory. */
function agree(words: readonly number[], slice: number, regs: readonly number[] = [], rounds = 100): Hart {
  const a = machine(words, false, regs);
  const b = machine(words, true, regs);
  for (let round = 0; round < rounds; round++) {
    const sa = a.hart.run(slice);
    const sb = b.hart.run(slice);
    expect(sb).toBe(sa);
    expect(b.hart.retired).toBe(a.hart.retired);
    expect(b.hart.pc).toBe(a.hart.pc);
    expect([...b.hart.x]).toEqual([...a.hart.x]);
    expect(b.hart.trapValue).toBe(a.hart.trapValue);
    expect(b.hart.fault).toBe(a.hart.fault);
    if (sa !== Stop.Budget) break;
  }
  const pa = a.mem.pages.get(DATA_BASE >>> 12)?.bytes;
  const pb = b.mem.pages.get(DATA_BASE >>> 12)?.bytes;
  expect(pb).toEqual(pa);
  return b.hart;
}

// sum = 0; for (i = 10; i != 0; i--) { if (i & 1) sum += i; else sum -= 1; mem[0] = sum } ebreak
const nested = [
  A.addi(1, 0, 10), // 0: i
  A.addi(2, 0, 0), // 1: sum
  A.andi(3, 1, 1), // 2: loop
  A.beq(3, 0, 12), // 3: even -> 6
  A.add(2, 2, 1), // 4
  A.jal(0, 8), // 5: -> 7
  A.addi(2, 2, -1), // 6
  A.sw(2, 8, 0), // 7
  A.addi(1, 1, -1), // 8
  A.bne(1, 0, -28), // 9: -> 2
  A.ebreak(), // 10
];

describe("translated regions", () => {
  it("run a loop with an if/else inside as one region, without coming back per block", () => {
    const { hart, mem } = machine(nested, true);
    expect(hart.run(10_000)).toBe(Stop.Ebreak);
    expect(hart.x[2]).toBe(1 + 3 + 5 + 7 + 9 - 5);
    expect(hart.retired).toBe(2 + 10 * 6 + 5);
    const page = mem.pages.get(CODE_BASE >>> 12)?.bytes as Uint8Array;
    // Translating at the first visit: only the entry was ever dispatched by the interpreter.
    expect(existingDecodedPage(page).blockCount).toBe(1);
  });

  it("are shared by source: the same code on another page (or in another machine) reuses the function", () => {
    const codeOf = (hart: Hart, mem: TestMemory) => {
      expect(hart.run(10_000)).toBe(Stop.Ebreak);
      return existingDecodedPage(mem.pages.get(CODE_BASE >>> 12)?.bytes as Uint8Array).blocks[0];
    };
    const first = machine(nested, true);
    const again = machine(nested, true);
    const other = machine([nested[0]!, A.addi(2, 0, 1), ...nested.slice(2)], true);
    const f = codeOf(first.hart, first.mem);
    expect(f).toBeTypeOf("function");
    expect(codeOf(again.hart, again.mem)).toBe(f);
    expect(codeOf(other.hart, other.mem)).not.toBe(f);
    expect(again.hart.x[2]).toBe(first.hart.x[2]);
  });

  it("stop exactly at any budget, mid-loop and mid-branch", () => {
    for (let slice = 1; slice <= 13; slice++) agree(nested, slice);
  });

  it("report a fault in the middle of a segment like the interpreter", () => {
    const words = [A.addi(1, 0, 3), A.sw(1, 8, 0), A.lw(2, 8, 0), A.lw(3, 9, 0), A.addi(4, 0, 1), A.ebreak()];
    for (const slice of [1, 2, 3, 4, 100]) {
      const hart = agree(words, slice, [0, 0, 0, 0, 0, 0, 0, 0, 0x5000]);
      expect(hart.fault).toBe(Fault.MapError);
    }
    const { hart } = machine(words, true, [0, 0, 0, 0, 0, 0, 0, 0, 0x5000]);
    expect(hart.run(100)).toBe(Stop.MemoryFault);
    expect(hart.retired).toBe(3);
    expect(hart.pc).toBe(CODE_BASE + 12);
    expect(hart.x[2]).toBe(3); // written back before the trap
  });

  it("keep x0 zero and wrap results to 32 bits in their register locals", () => {
    const words = [
      A.addi(0, 0, 5),
      A.add(1, 0, 0),
      ...A.li(2, 0x7fffffff),
      A.addi(3, 2, 1), // wraps to -2^31
      A.srli(4, 3, 0), // >>> gives 2^31 in JavaScript: must read back as -2^31
      A.slt(7, 4, 0), // so x4 < 0: 1
      A.sw(3, 8, 1), // misaligned: slow path
      A.lw(5, 8, 1), // misaligned load returns unsigned from the slow path
      A.jal(0, 8),
      A.addi(6, 0, 1), // skipped
      A.ebreak(),
    ];
    const hart = agree(words, 1000);
    expect([hart.x[0], hart.x[1], hart.x[3], hart.x[4], hart.x[5], hart.x[6], hart.x[7]]).toEqual([
      0,
      0,
      -(2 ** 31),
      -(2 ** 31),
      -(2 ** 31),
      0,
      1,
    ]);
  });

  it("agree with the interpreter on random programs with backward branches and jumps", () => {
    const reg = fc.integer({ min: 1, max: 7 });
    const op = fc.oneof(
      fc
        .tuple(fc.constantFrom(A.add, A.sub, A.xor, A.srl, A.sra, A.sltu, A.mul, A.divu), reg, reg, reg)
        .map(([f, d, a, b]) => f(d, a, b)),
      fc
        .tuple(
          fc.constantFrom(A.addi, A.xori, A.andi, A.slti),
          fc.integer({ min: 0, max: 7 }),
          reg,
          fc.integer({ min: -64, max: 63 }),
        )
        .map(([f, d, a, i]) => f(d, a, i)),
      fc
        .tuple(fc.constantFrom(A.lw, A.lbu, A.lh), reg, fc.integer({ min: 0, max: 60 }))
        .map(([f, d, o]) => f(d, 8, o)),
      fc
        .tuple(fc.constantFrom(A.sw, A.sb, A.sh), reg, fc.integer({ min: 0, max: 60 }))
        .map(([f, s, o]) => f(s, 8, o)),
    );
    const jump = fc.tuple(
      fc.constantFrom(A.beq, A.bne, A.blt, A.bgeu, null),
      reg,
      reg,
      fc.integer({ min: -6, max: 6 }).filter((x) => x !== 0),
    );
    const program = fc
      .tuple(
        fc.array(op, { minLength: 2, maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(), jump), { maxLength: 6 }),
      )
      .map(([body, jumps]) => {
        const words = [...body];
        for (const [at, [f, a, b, skip]] of jumps) {
          const i = at % words.length;
          const off = 4 * Math.max(-i, Math.min(skip, words.length - i));
          words.splice(i, 0, f === null ? A.jal(0, off) : f(a, b, off));
        }
        return [...words, A.ebreak()];
      });
    fc.assert(
      fc.property(
        program,
        fc.array(fc.integer(), { minLength: 7, maxLength: 7 }),
        fc.integer({ min: 1, max: 40 }),
        (words, regs, slice) => {
          agree(words, slice, regs, 60);
        },
      ),
      { numRuns: 200 },
    );
  });
});
