import { describe, expect, it } from "vitest";
import { Stop } from "./cpu-types.ts";
import { Hart } from "./hart.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, PROT_RX, runProgram, TestMemory } from "./test-memory.ts";

describe("ECALL, EBREAK, WFI, PAUSE, FENCE", () => {
  it("ECALL stops on itself, unretired; the kernel steps over it", () => {
    const { hart, stop } = runProgram([A.addi(17, 0, 93), A.ecall(), A.addi(10, 0, 7), A.ebreak()]);
    expect(stop).toBe(Stop.Ecall);
    expect(hart.pc).toBe(CODE_BASE + 4);
    expect(hart.x[17]).toBe(93);
    expect(hart.retired).toBe(1);
    hart.pc += 4;
    expect(hart.run(100)).toBe(Stop.Ebreak);
    expect(hart.x[10]).toBe(7);
    expect(hart.pc).toBe(CODE_BASE + 12);
    expect(hart.instret).toBe(2);
  });

  it("EBREAK stops on itself", () => {
    const { hart, stop } = runProgram([A.ebreak()]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.pc).toBe(CODE_BASE);
    expect(hart.retired).toBe(0);
  });

  it("WFI retires and yields", () => {
    const { hart, stop } = runProgram([A.wfi(), A.ebreak()]);
    expect(stop).toBe(Stop.Yield);
    expect(hart.pc).toBe(CODE_BASE + 4);
    expect(hart.retired).toBe(1);
  });

  it("PAUSE is a no-op unless the kernel asks to see it", () => {
    expect(runProgram([A.pause(), A.ebreak()]).stop).toBe(Stop.Ebreak);
    const mem = new TestMemory();
    mem.map(CODE_BASE, 8, PROT_RX);
    mem.writeWords(CODE_BASE, [A.pause(), A.ebreak()]);
    const hart = new Hart(mem);
    hart.pc = CODE_BASE;
    hart.yieldOnPause = true;
    expect(hart.run(10)).toBe(Stop.Yield);
    expect(hart.pc).toBe(CODE_BASE + 4);
  });

  it("FENCE (any predecessor/successor sets) is a no-op", () => {
    const { stop, hart } = runProgram([A.fence(), 0x8330000f, A.fence_i(), A.ebreak()]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.retired).toBe(3);
  });
});

describe("counters", () => {
  it("RDCYCLE, RDTIME and RDINSTRET read the retired-instruction count", () => {
    const { hart } = runProgram([
      A.addi(1, 0, 1),
      A.csrrs(10, 0xc00, 0),
      A.csrrs(11, 0xc01, 0),
      A.csrrs(12, 0xc02, 0),
      A.csrrs(13, 0xc80, 0),
      A.csrrs(14, 0xc82, 0),
      A.ebreak(),
    ]);
    expect([hart.x[10], hart.x[11], hart.x[12], hart.x[13], hart.x[14]]).toEqual([1, 2, 3, 0, 0]);
  });

  it("the high halves carry the upper bits of instret", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, 12, PROT_RX);
    mem.writeWords(CODE_BASE, [A.csrrs(10, 0xc02, 0), A.csrrs(11, 0xc82, 0), A.ebreak()]);
    const hart = new Hart(mem);
    hart.pc = CODE_BASE;
    hart.instret = 3 * 2 ** 32 + 0xfffffffe;
    hart.run(10);
    expect(hart.x[10]! >>> 0).toBe(0xfffffffe);
    expect(hart.x[11]).toBe(3);
  });
});

describe("illegal instructions", () => {
  const illegal: [string, number][] = [
    ["all-zero word", 0],
    ["all-ones word", 0xffffffff],
    ["compressed c.addi", 0x0505],
    ["unknown opcode", 0x0000000b],
    ["load funct3 3 (LD, RV64)", A.iType(0, 1, 3, 2, 0x03)],
    ["store funct3 3 (SD)", 0x00113023],
    ["branch funct3 2", 0x00002063],
    ["JALR funct3 1", A.iType(0, 1, 1, 2, 0x67)],
    ["OP funct7 0x20 with ADD's funct3 1", A.rType(0x20, 2, 1, 1, 3, 0x33)],
    ["OP funct7 0x02", A.rType(0x02, 2, 1, 0, 3, 0x33)],
    ["SRAI-like funct7 0x10", A.iType(0x200 | 1, 1, 5, 2, 0x13)],
    ["MRET", 0x30200073],
    ["SFENCE.VMA", 0x12000073],
    ["CSRRW to cycle", A.csrrw(1, 0xc00, 0)],
    ["CSRRS cycle with rs1 != x0 (a write)", A.csrrs(1, 0xc00, 2)],
    ["CSRRS of mstatus", A.csrrs(1, 0x300, 0)],
    ["CSRRS of fcsr (no F)", A.csrrs(1, 0x003, 0)],
    ["LR.W with rs2 != 0", A.rType(0b0001000, 3, 1, 2, 2, 0x2f)],
    ["AMO funct3 3 (RV64 .D)", A.rType(0, 3, 1, 3, 2, 0x2f)],
    ["AMO funct5 0b00101", A.rType(0b0010100, 3, 1, 2, 2, 0x2f)],
    ["MISC-MEM funct3 2", 0x0000200f],
    ["FP load (no F)", 0x00012007],
  ];
  for (const [name, word] of illegal) {
    it(`${name} → Stop.Illegal with its bits`, () => {
      const { hart, stop } = runProgram([A.addi(1, 0, 1), word, A.ebreak()]);
      expect(stop).toBe(Stop.Illegal);
      expect(hart.pc).toBe(CODE_BASE + 4);
      expect(hart.retired).toBe(1);
      const bits = (word & 3) !== 3 ? word & 0xffff : word >>> 0;
      expect(hart.trapValue).toBe(bits);
    });
  }
});

describe("context", () => {
  it("getContext/setContext round-trip unsigned registers and pc", () => {
    const { hart } = runProgram([A.addi(1, 0, -1), A.addi(4, 0, 42), A.ebreak()]);
    const ctx = hart.getContext();
    expect(ctx.x[1]).toBe(0xffffffff);
    expect(ctx.x[4]).toBe(42);
    expect(ctx.pc).toBe(CODE_BASE + 8);
    const other = new Hart(hart.mem, ctx);
    expect(other.getContext()).toEqual(ctx);
    expect(other.x[1]).toBe(-1);
  });

  it("setContext forces x0 to 0 and refuses a short register file", () => {
    const { hart } = runProgram([A.ebreak()]);
    const x = new Array<number>(32).fill(5);
    hart.setContext({ x, pc: CODE_BASE });
    expect(hart.x[0]).toBe(0);
    expect(hart.x[31]).toBe(5);
    expect(() => hart.setContext({ x: [1, 2], pc: 0 })).toThrow(/2 registers, expected 32/);
  });
});
