/**
 * The whole instruction test suite again, with basic-block translation on and translating at the
 * first visit of every instruction: both execution paths must pass the same tests.
 */
import { describe, expect, it } from "vitest";

// Set before the helpers are first evaluated (they read it once), and unset right after so
// that no other test file sharing this worker process sees it.
process.env.VKC_TEST_JIT = "0";
const { Stop } = await import("./cpu-types.ts");
const { Hart, hartDefaults } = await import("./hart.ts");
const A = await import("./test-asm.ts");
const { CODE_BASE, runProgram } = await import("./test-memory.ts");
delete process.env.VKC_TEST_JIT;

await import("./execute-alu.test.ts");
await import("./execute-atomic.test.ts");
await import("./execute-control.test.ts");
await import("./execute-memory.test.ts");
await import("./execute-system.test.ts");
await import("../exec/elf.test.ts");
await import("../exec/initial-stack.test.ts");

describe("translated blocks", () => {
  it("are used: a loop runs through one translated block", () => {
    const { hart, stop } = runProgram([
      A.addi(1, 0, 100),
      A.addi(2, 2, 3),
      A.addi(1, 1, -1),
      A.bne(1, 0, -8),
      A.ebreak(),
    ]);
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[2]).toBe(300);
    expect(hart.tlb.mem).toBe(hart.mem);
  });

  it("never overrun the budget: a block longer than what is left is interpreted", () => {
    const prog = [A.addi(1, 1, 1), A.addi(1, 1, 1), A.addi(1, 1, 1), A.addi(1, 1, 1), A.jal(0, -16)];
    const { hart } = runProgram(prog, { budget: 5 }); // translates and runs one block of 5
    expect(hart.x[1]).toBe(4);
    for (let budget = 1; budget <= 7; budget++) {
      const before = hart.instret;
      expect(hart.run(budget)).toBe(Stop.Budget);
      expect(hart.instret - before).toBe(budget);
    }
    // 33 instructions in all: one JAL every 5, the rest ADDIs.
    expect(hart.instret).toBe(33);
    expect(hart.pc).toBe(CODE_BASE + 4 * (33 % 5));
    expect(hart.x[1]).toBe(33 - Math.floor(33 / 5));
  });

  it("can be turned off per hart", () => {
    const { hart } = runProgram([A.addi(1, 0, 1), A.ebreak()], { budget: 0 });
    hart.jit = false;
    expect(hart.run(10)).toBe(Stop.Ebreak);
    expect(new Hart(hart.mem).jit).toBe(true);
    expect(hartDefaults.jitThreshold).toBe(0);
  });
});
