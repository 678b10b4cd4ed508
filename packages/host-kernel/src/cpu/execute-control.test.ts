import { describe, expect, it } from "vitest";
import { Stop } from "./cpu-types.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, runProgram } from "./test-memory.ts";

describe("jumps", () => {
  it("JAL links pc+4 and jumps forward and backward", () => {
    // 0: jal x1, +12 ; 4: addi x5,x5,1 ; 8: ebreak ; 12: jal x2, -8
    const { hart, stop } = runProgram([A.jal(1, 12), A.addi(5, 5, 1), A.ebreak(), A.jal(2, -8)]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[1]! >>> 0).toBe(CODE_BASE + 4);
    expect(hart.x[2]! >>> 0).toBe(CODE_BASE + 16);
    expect(hart.x[5]).toBe(1);
    expect(hart.pc).toBe(CODE_BASE + 8);
    expect(hart.retired).toBe(3);
  });

  it("JALR clears bit 0 of the target and links before jumping (rd = rs1)", () => {
    // x1 = CODE_BASE + 13 (odd); jalr x1, x1, 0 → CODE_BASE + 12
    const { hart, stop } = runProgram([A.li(1, CODE_BASE + 13), A.jalr(1, 1, 0), A.ebreak(), A.ebreak()]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.pc).toBe(CODE_BASE + 12);
    expect(hart.x[1]! >>> 0).toBe(CODE_BASE + 12);
  });

  it("JALR adds a negative offset", () => {
    const { hart } = runProgram([A.li(3, CODE_BASE + 20), A.jalr(0, 3, -8), A.ebreak(), A.ebreak()]);
    expect(hart.pc).toBe(CODE_BASE + 12);
  });

  it("a jump to an address not 4-byte aligned traps on the jump (Stop.Misaligned)", () => {
    const { hart, stop } = runProgram([A.li(3, CODE_BASE + 6), A.jalr(1, 3, 0), A.ebreak()]);
    expect(stop).toBe(Stop.Misaligned);
    expect(hart.trapValue).toBe(CODE_BASE + 6);
    expect(hart.pc).toBe(CODE_BASE + 8);
    expect(hart.x[1]).toBe(0);
    expect(hart.retired).toBe(2);
  });

  it("a taken branch to a 2-byte aligned target traps; not taken it does not", () => {
    const notTaken = runProgram([A.bne(0, 0, 6), A.ebreak()]);
    expect(notTaken.stop).toBe(Stop.Ebreak);
    const taken = runProgram([A.beq(0, 0, 6), A.ebreak()]);
    expect(taken.stop).toBe(Stop.Misaligned);
    expect(taken.hart.trapValue).toBe(CODE_BASE + 6);
    expect(taken.hart.pc).toBe(CODE_BASE);
  });
});

describe("branches", () => {
  const cases: [string, (a: number, b: number, off: number) => number, number, number, boolean][] = [
    ["beq equal", A.beq, 5, 5, true],
    ["beq differ", A.beq, 5, 6, false],
    ["bne differ", A.bne, 5, 6, true],
    ["bne equal", A.bne, -1, -1, false],
    ["blt negative < positive", A.blt, -1, 1, true],
    ["blt positive < negative", A.blt, 1, -1, false],
    ["bge equal", A.bge, -3, -3, true],
    ["bge smaller", A.bge, -4, -3, false],
    ["bltu 1 < 0xffffffff", A.bltu, 1, -1, true],
    ["bltu 0xffffffff < 1", A.bltu, -1, 1, false],
    ["bgeu 0x80000000 >= 1", A.bgeu, -(2 ** 31), 1, true],
    ["bgeu 0 >= 1", A.bgeu, 0, 1, false],
  ];
  for (const [name, enc, a, b, taken] of cases) {
    it(`${name}: ${taken ? "taken" : "not taken"}`, () => {
      // branch +8 skips "addi x5, x0, 1"
      const { hart } = runProgram([enc(1, 2, 8), A.addi(5, 0, 1), A.ebreak()], { regs: { 1: a, 2: b } });
      expect(hart.x[5]).toBe(taken ? 0 : 1);
    });
  }

  it("branches backwards (a counted loop)", () => {
    // x1 = 10; loop: x2 += 3; x1 -= 1; bne x1, x0, loop
    const { hart, stop } = runProgram([
      A.addi(1, 0, 10),
      A.addi(2, 2, 3),
      A.addi(1, 1, -1),
      A.bne(1, 0, -8),
      A.ebreak(),
    ]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[2]).toBe(30);
    expect(hart.retired).toBe(1 + 30);
  });
});

describe("budget", () => {
  it("retires exactly `budget` instructions and resumes where it stopped", () => {
    const prog = [A.addi(1, 0, 0), A.addi(1, 1, 1), A.jal(0, -4)];
    const { hart, stop } = runProgram(prog, { budget: 7 });
    expect(stop).toBe(Stop.Budget);
    expect(hart.retired).toBe(7);
    expect(hart.instret).toBe(7);
    // 1 (li) + addi, jal, addi, jal, addi, jal → x1 = 3, pc at the addi
    expect(hart.x[1]).toBe(3);
    expect(hart.pc).toBe(CODE_BASE + 4);
    expect(hart.run(2)).toBe(Stop.Budget);
    expect(hart.x[1]).toBe(4);
    expect(hart.instret).toBe(9);
    expect(hart.retired).toBe(2);
  });

  it("a zero budget does nothing", () => {
    const { hart, stop } = runProgram([A.ebreak()], { budget: 0 });
    expect(stop).toBe(Stop.Budget);
    expect(hart.retired).toBe(0);
    expect(hart.pc).toBe(CODE_BASE);
  });
});
