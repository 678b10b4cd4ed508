import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Stop } from "./cpu-types.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, runProgram } from "./test-memory.ts";

/** Run `words` then EBREAK with registers preset; return the register file (signed). */
function exec(words: readonly (number | readonly number[])[], regs: Record<number, number> = {}): Int32Array {
  const { hart, stop } = runProgram([...words, A.ebreak()], { regs });
  expect(stop).toBe(Stop.Ebreak);
  return hart.x;
}

const i32 = (v: number | bigint): number => Number(BigInt.asIntN(32, BigInt(v)));
const S = (v: number): bigint => BigInt(v | 0);
const U = (v: number): bigint => BigInt(v >>> 0);

/** Reference model of the register-register ops, on BigInt. */
const REG_OPS: Record<
  string,
  [(rd: number, rs1: number, rs2: number) => number, (a: number, b: number) => number]
> = {
  add: [A.add, (a, b) => i32(S(a) + S(b))],
  sub: [A.sub, (a, b) => i32(S(a) - S(b))],
  sll: [A.sll, (a, b) => i32(U(a) << (U(b) & 31n))],
  slt: [A.slt, (a, b) => (S(a) < S(b) ? 1 : 0)],
  sltu: [A.sltu, (a, b) => (U(a) < U(b) ? 1 : 0)],
  xor: [A.xor, (a, b) => i32(S(a) ^ S(b))],
  srl: [A.srl, (a, b) => i32(U(a) >> (U(b) & 31n))],
  sra: [A.sra, (a, b) => i32(S(a) >> (U(b) & 31n))],
  or: [A.or, (a, b) => i32(S(a) | S(b))],
  and: [A.and, (a, b) => i32(S(a) & S(b))],
  mul: [A.mul, (a, b) => i32(S(a) * S(b))],
  mulh: [A.mulh, (a, b) => i32((S(a) * S(b)) >> 32n)],
  mulhsu: [A.mulhsu, (a, b) => i32((S(a) * U(b)) >> 32n)],
  mulhu: [A.mulhu, (a, b) => i32((U(a) * U(b)) >> 32n)],
  div: [A.div, (a, b) => (b === 0 ? -1 : a === -(2 ** 31) && b === -1 ? a : i32(S(a) / S(b)))],
  divu: [A.divu, (a, b) => (b === 0 ? -1 : i32(U(a) / U(b)))],
  rem: [A.rem, (a, b) => (b === 0 ? a : a === -(2 ** 31) && b === -1 ? 0 : i32(S(a) % S(b)))],
  remu: [A.remu, (a, b) => (b === 0 ? a : i32(U(a) % U(b)))],
};

const IMM_OPS: Record<
  string,
  [(rd: number, rs1: number, imm: number) => number, (a: number, imm: number) => number]
> = {
  addi: [A.addi, (a, i) => i32(S(a) + S(i))],
  slti: [A.slti, (a, i) => (S(a) < S(i) ? 1 : 0)],
  sltiu: [A.sltiu, (a, i) => (U(a) < U(i) ? 1 : 0)],
  xori: [A.xori, (a, i) => i32(S(a) ^ S(i))],
  ori: [A.ori, (a, i) => i32(S(a) | S(i))],
  andi: [A.andi, (a, i) => i32(S(a) & S(i))],
};

const SHIFT_OPS: Record<
  string,
  [(rd: number, rs1: number, sh: number) => number, (a: number, s: number) => number]
> = {
  slli: [A.slli, (a, s) => i32(U(a) << BigInt(s))],
  srli: [A.srli, (a, s) => i32(U(a) >> BigInt(s))],
  srai: [A.srai, (a, s) => i32(S(a) >> BigInt(s))],
};

const int32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, 1, -1, 31, 32, 33, 2 ** 31 - 1, -(2 ** 31)),
);

describe("register-register ALU and M ops", () => {
  for (const [name, [enc, ref]] of Object.entries(REG_OPS)) {
    it(`${name} matches the reference model`, () => {
      fc.assert(
        fc.property(int32, int32, (a, b) => {
          expect(exec([enc(3, 1, 2)], { 1: a, 2: b })[3]).toBe(ref(a, b));
        }),
        { numRuns: 150 },
      );
    });
  }

  it("uses only the low 5 bits of a shift amount", () => {
    const x = exec([A.sll(3, 1, 2), A.srl(4, 1, 2), A.sra(5, 1, 2), A.sll(6, 1, 7)], { 1: -8, 2: 33, 7: 32 });
    expect(x[3]).toBe(-16);
    expect(x[4]).toBe(0x7ffffffc);
    expect(x[5]).toBe(-4);
    expect(x[6]).toBe(-8);
  });

  it("compares signed and unsigned with negatives", () => {
    const x = exec([A.slt(3, 1, 2), A.sltu(4, 1, 2), A.slt(5, 2, 1), A.sltu(6, 2, 1)], { 1: -1, 2: 1 });
    expect([x[3], x[4], x[5], x[6]]).toEqual([1, 0, 0, 1]);
  });

  it("handles DIV/REM special cases", () => {
    const x = exec(
      [A.div(3, 1, 0), A.rem(4, 1, 0), A.divu(5, 1, 0), A.remu(6, 1, 0), A.div(7, 2, 8), A.rem(9, 2, 8)],
      {
        1: -7,
        2: -(2 ** 31),
        8: -1,
      },
    );
    expect([x[3], x[4], x[5], x[6], x[7], x[9]]).toEqual([-1, -7, -1, -7, -(2 ** 31), 0]);
  });
});

describe("immediate ALU ops", () => {
  const imm12 = fc.integer({ min: -2048, max: 2047 });
  for (const [name, [enc, ref]] of Object.entries(IMM_OPS)) {
    it(`${name} matches the reference model (sign-extended immediate)`, () => {
      fc.assert(
        fc.property(int32, imm12, (a, imm) => {
          expect(exec([enc(3, 1, imm)], { 1: a })[3]).toBe(ref(a, imm));
        }),
        { numRuns: 150 },
      );
    });
  }
  for (const [name, [enc, ref]] of Object.entries(SHIFT_OPS)) {
    it(`${name} matches the reference model`, () => {
      fc.assert(
        fc.property(int32, fc.integer({ min: 0, max: 31 }), (a, s) => {
          expect(exec([enc(3, 1, s)], { 1: a })[3]).toBe(ref(a, s));
        }),
        { numRuns: 150 },
      );
    });
  }

  it("SLTIU compares against the sign-extended immediate as unsigned", () => {
    const x = exec([A.sltiu(3, 1, -1), A.sltiu(4, 0, 1), A.sltiu(5, 2, -1)], { 1: 5, 2: -1 });
    expect([x[3], x[4], x[5]]).toEqual([1, 1, 0]);
  });

  it("rejects a shift-immediate with bit 5 set (RV32) as illegal", () => {
    const word = A.slli(1, 1, 0) | (1 << 25);
    const { hart, stop } = runProgram([word]);
    expect(stop).toBe(Stop.Illegal);
    expect(hart.trapValue).toBe(word >>> 0);
  });
});

describe("x0", () => {
  it("ignores writes to x0 from every kind of instruction", () => {
    const x = exec([A.addi(0, 0, 5), A.lui(0, 0x12345), A.add(0, 1, 1), A.jal(0, 4), A.add(2, 0, 0)], {
      1: 9,
    });
    expect(x[0]).toBe(0);
    expect(x[2]).toBe(0);
  });

  it("reads x0 as 0 even if the kernel scribbled on it", () => {
    const r = runProgram([A.addi(1, 0, 1), A.add(2, 0, 0), A.ebreak()], { budget: 0 });
    r.hart.x[0] = 77;
    expect(r.hart.run(10)).toBe(Stop.Ebreak);
    expect(r.hart.x[1]).toBe(1);
    expect(r.hart.x[2]).toBe(0);
    expect(r.hart.x[0]).toBe(0);
  });
});

describe("LUI and AUIPC", () => {
  it("loads upper immediates and adds them to pc", () => {
    const x = exec([A.lui(1, 0xfffff), A.auipc(2, 1), A.auipc(3, 0xfffff)]);
    expect(x[1]).toBe(0xfffff000 | 0);
    expect(x[2]! >>> 0).toBe(CODE_BASE + 4 + 0x1000);
    expect(x[3]! >>> 0).toBe((CODE_BASE + 8 - 0x1000) >>> 0);
  });

  it("li builds any 32-bit value", () => {
    fc.assert(
      fc.property(int32, (v) => {
        expect(exec([A.li(5, v)])[5]).toBe(v);
      }),
      { numRuns: 200 },
    );
  });
});
