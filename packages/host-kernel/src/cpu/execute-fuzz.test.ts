import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, Stop } from "./cpu-types.ts";
import { decode } from "./decode.ts";
import { Hart } from "./hart.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, DATA_BASE, PROT_RW, PROT_RWX, TestMemory } from "./test-memory.ts";

const word = fc.integer({ min: 0, max: 0xffffffff });

/** A machine with code at CODE_BASE (RWX, so programs may rewrite themselves) and 2 data pages. */
function machine(
  words: readonly number[],
  jit: boolean,
  regs: readonly number[],
): { hart: Hart; mem: TestMemory } {
  const mem = new TestMemory();
  mem.map(CODE_BASE, PAGE_SIZE, PROT_RWX);
  mem.map(DATA_BASE, 2 * PAGE_SIZE, PROT_RW);
  mem.writeWords(CODE_BASE, words);
  const hart = new Hart(mem);
  hart.jit = jit;
  hart.jitThreshold = 0;
  hart.pc = CODE_BASE;
  regs.forEach((v, i) => {
    hart.x[i + 1] = v;
  });
  return { hart, mem };
}

/** Instructions that stay inside the machine above: registers x1..x7, memory via x8 = DATA_BASE. */
const reg = fc.integer({ min: 1, max: 7 });
const imm12 = fc.integer({ min: -2048, max: 2047 });
const off = fc.integer({ min: 0, max: 2 * PAGE_SIZE - 8 - 2047 });
const instruction = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(A.add, A.sub, A.sll, A.slt, A.sltu, A.xor, A.srl, A.sra, A.or, A.and),
      reg,
      reg,
      reg,
    )
    .map(([f, d, a, b]) => f(d, a, b)),
  fc
    .tuple(fc.constantFrom(A.mul, A.mulh, A.mulhsu, A.mulhu, A.div, A.divu, A.rem, A.remu), reg, reg, reg)
    .map(([f, d, a, b]) => f(d, a, b)),
  fc
    .tuple(fc.constantFrom(A.addi, A.slti, A.sltiu, A.xori, A.ori, A.andi), reg, reg, imm12)
    .map(([f, d, a, i]) => f(d, a, i)),
  fc
    .tuple(fc.constantFrom(A.slli, A.srli, A.srai), reg, reg, fc.integer({ min: 0, max: 31 }))
    .map(([f, d, a, s]) => f(d, a, s)),
  fc.tuple(fc.constantFrom(A.lb, A.lh, A.lw, A.lbu, A.lhu), reg, off).map(([f, d, o]) => f(d, 8, o % 2048)),
  fc.tuple(fc.constantFrom(A.sb, A.sh, A.sw), reg, off).map(([f, s, o]) => f(s, 8, o % 2048)),
  fc.tuple(reg, fc.integer({ min: 0, max: 0xfffff })).map(([d, u]) => A.lui(d, u)),
  fc.tuple(fc.constantFrom(A.amoadd_w, A.amoswap_w, A.amomaxu_w), reg, reg).map(([f, d, s]) => f(d, 9, s)),
  fc.constant(A.fence()),
);

/** A program: random instructions, some short forward branches, a counted loop around it all. */
const program = fc
  .tuple(
    fc.array(instruction, { minLength: 1, maxLength: 40 }),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom(A.beq, A.bne, A.blt, A.bgeu),
        reg,
        reg,
        fc.integer({ min: 1, max: 4 }),
      ),
    ),
    fc.integer({ min: 1, max: 6 }),
  )
  .map(([body, branches, loops]) => {
    const words = [...body];
    for (const [at, f, a, b, skip] of branches) {
      const i = at % words.length;
      words.splice(i, 0, f(a, b, 4 * (skip + 1)));
    }
    // x10 counts down the loop; x8 = data, x9 = an aligned word in it
    const head = [...A.li(8, DATA_BASE), ...A.li(9, DATA_BASE + 64), A.addi(10, 0, loops)];
    const tail = [
      A.addi(10, 10, -1),
      A.bne(10, 0, -4 * (words.length + 1)),
      A.ebreak(),
      A.ebreak(),
      A.ebreak(),
      A.ebreak(),
      A.ebreak(),
    ];
    return [...head, ...words, ...tail];
  });

describe("fuzz", () => {
  it("decodes any word without throwing, to a non-zero code", () => {
    fc.assert(
      fc.property(word, (w) => {
        const d = decode(w, { code: 0, imm: 0 });
        expect(d.code).not.toBe(0);
      }),
      { numRuns: 20_000 },
    );
  });

  it("runs any words without a JavaScript exception, stopping in a defined way", () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 32 }),
        fc.array(word, { maxLength: 7 }),
        (words, regs) => {
          for (const jit of [false, true]) {
            const { hart } = machine(words, jit, regs);
            const stop = hart.run(200);
            expect(stop).toBeGreaterThanOrEqual(Stop.Budget);
            expect(stop).toBeLessThanOrEqual(Stop.Yield);
            expect(hart.retired).toBeLessThanOrEqual(200);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("translated blocks and the interpreter agree on random programs, at any budget", () => {
    fc.assert(
      fc.property(
        program,
        fc.array(fc.integer(), { minLength: 7, maxLength: 7 }),
        fc.integer({ min: 1, max: 50 }),
        (words, regs, slice) => {
          const a = machine(words, false, regs);
          const b = machine(words, true, regs);
          for (let round = 0; round < 100; round++) {
            const sa = a.hart.run(slice);
            const sb = b.hart.run(slice);
            expect(sb).toBe(sa);
            expect(b.hart.retired).toBe(a.hart.retired);
            expect(b.hart.pc).toBe(a.hart.pc);
            expect([...b.hart.x]).toEqual([...a.hart.x]);
            if (sa !== Stop.Budget) {
              expect(b.hart.trapValue).toBe(a.hart.trapValue);
              expect(b.hart.fault).toBe(a.hart.fault);
              break;
            }
          }
          expect(b.mem.readBytes(DATA_BASE, 2 * PAGE_SIZE)).toEqual(
            a.mem.readBytes(DATA_BASE, 2 * PAGE_SIZE),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
