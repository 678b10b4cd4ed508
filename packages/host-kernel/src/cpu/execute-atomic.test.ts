import { describe, expect, it } from "vitest";
import { Fault, PAGE_SIZE, Stop } from "./cpu-types.ts";
import { Hart } from "./hart.ts";
import * as A from "./test-asm.ts";
import { CODE_BASE, DATA_BASE, PROT_R, PROT_RW, PROT_RX, runProgram, TestMemory } from "./test-memory.ts";

function setup(): TestMemory {
  const mem = new TestMemory();
  mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
  mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
  return mem;
}

describe("LR.W / SC.W", () => {
  it("succeeds when the reservation holds: rd = 0, memory written, reservation gone", () => {
    const mem = setup();
    mem.writeU32(DATA_BASE, 41);
    const { hart, stop } = runProgram(
      [A.li(1, DATA_BASE), A.lr_w(2, 1, 1, 0), A.addi(2, 2, 1), A.sc_w(3, 1, 2, 0, 1), A.ebreak()],
      { mem },
    );
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[3]).toBe(0);
    expect(mem.readU32(DATA_BASE)).toBe(42);
    expect(mem.reservations.count).toBe(0);
  });

  it("fails without a reservation: rd = 1, memory untouched", () => {
    const mem = setup();
    mem.writeU32(DATA_BASE, 7);
    const { hart } = runProgram([A.li(1, DATA_BASE), A.addi(2, 0, 9), A.sc_w(3, 1, 2), A.ebreak()], { mem });
    expect(hart.x[3]).toBe(1);
    expect(mem.readU32(DATA_BASE)).toBe(7);
  });

  it("fails on a different address than the reserved one, and still clears the reservation", () => {
    const mem = setup();
    const { hart } = runProgram(
      [A.li(1, DATA_BASE), A.lr_w(2, 1), A.addi(4, 1, 4), A.sc_w(3, 4, 2), A.sc_w(5, 1, 2), A.ebreak()],
      { mem },
    );
    expect(hart.x[3]).toBe(1);
    expect(hart.x[5]).toBe(1);
    expect(mem.reservations.count).toBe(0);
  });

  it("fails after another hart stores to the reserved word", () => {
    const mem = setup();
    mem.writeU32(DATA_BASE, 100);
    // Hart A: lr.w ; (budget stops here) ; sc.w
    mem.writeWords(
      CODE_BASE,
      [A.li(1, DATA_BASE), A.lr_w(2, 1), A.addi(2, 2, 1), A.sc_w(3, 1, 2), A.ebreak()].flat(),
    );
    // Hart B (code at +0x100): sw to the same word
    mem.writeWords(
      CODE_BASE + 0x100,
      [A.li(1, DATA_BASE), A.addi(5, 0, 5), A.sb(5, 1, 3), A.ebreak()].flat(),
    );
    const a = new Hart(mem);
    a.pc = CODE_BASE;
    expect(a.run(3)).toBe(Stop.Budget);
    expect(mem.reservations.count).toBe(1);
    const b = new Hart(mem);
    b.pc = CODE_BASE + 0x100;
    expect(b.run(10)).toBe(Stop.Ebreak);
    expect(mem.reservations.count).toBe(0);
    expect(a.run(10)).toBe(Stop.Ebreak);
    expect(a.x[3]).toBe(1);
    expect(mem.readU32(DATA_BASE)).toBe(0x05000064);
  });

  it("another hart's store to a different word leaves the reservation", () => {
    const mem = setup();
    mem.writeWords(CODE_BASE, [A.li(1, DATA_BASE), A.lr_w(2, 1), A.sc_w(3, 1, 2), A.ebreak()].flat());
    mem.writeWords(CODE_BASE + 0x100, [A.li(1, DATA_BASE), A.sw(1, 1, 4), A.ebreak()].flat());
    const a = new Hart(mem);
    a.pc = CODE_BASE;
    a.run(3);
    const b = new Hart(mem);
    b.pc = CODE_BASE + 0x100;
    b.run(10);
    a.run(10);
    expect(a.x[3]).toBe(0);
  });

  it("an SC by another hart breaks the reservation too", () => {
    const mem = setup();
    const prog = [A.li(1, DATA_BASE), A.lr_w(2, 1), A.addi(2, 2, 1), A.sc_w(3, 1, 2), A.ebreak()].flat();
    mem.writeWords(CODE_BASE, prog);
    const a = new Hart(mem);
    const b = new Hart(mem);
    a.pc = CODE_BASE;
    b.pc = CODE_BASE;
    a.run(3);
    expect(b.run(10)).toBe(Stop.Ebreak);
    expect(b.x[3]).toBe(0);
    a.run(10);
    expect(a.x[3]).toBe(1);
    expect(mem.readU32(DATA_BASE)).toBe(1);
  });

  it("misaligned LR/SC → Stop.Misaligned with the address", () => {
    const lr = runProgram([A.li(1, DATA_BASE + 2), A.lr_w(2, 1), A.ebreak()]);
    expect(lr.stop).toBe(Stop.Misaligned);
    expect(lr.hart.trapValue).toBe(DATA_BASE + 2);
    expect(lr.hart.pc).toBe(CODE_BASE + 8);
    const sc = runProgram([A.li(1, DATA_BASE + 1), A.sc_w(2, 1, 0), A.ebreak()]);
    expect(sc.stop).toBe(Stop.Misaligned);
  });

  it("LR on an unmapped address faults", () => {
    const { hart, stop } = runProgram([A.li(1, 0x7000_0000), A.lr_w(2, 1), A.ebreak()]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.MapError);
  });

  it("changing the hart's memory or context drops its reservation", () => {
    const mem = setup();
    const { hart } = runProgram([A.li(1, DATA_BASE), A.lr_w(2, 1), A.ebreak()], { mem });
    expect(mem.reservations.count).toBe(1);
    hart.setContext(hart.getContext());
    expect(mem.reservations.count).toBe(0);
  });
});

describe("AMO*.W", () => {
  const cases: [string, (rd: number, rs1: number, rs2: number) => number, number, number, number][] = [
    ["amoswap", A.amoswap_w, 5, -9, -9],
    ["amoadd", A.amoadd_w, 0x7fffffff, 1, -(2 ** 31)],
    ["amoxor", A.amoxor_w, 0b1100, 0b1010, 0b0110],
    ["amoand", A.amoand_w, 0b1100, 0b1010, 0b1000],
    ["amoor", A.amoor_w, 0b1100, 0b1010, 0b1110],
    ["amomin", A.amomin_w, -5, 3, -5],
    ["amomax", A.amomax_w, -5, 3, 3],
    ["amominu", A.amominu_w, -5, 3, 3],
    ["amomaxu", A.amomaxu_w, -5, 3, -5],
  ];
  for (const [name, enc, old, src, result] of cases) {
    it(`${name}.w: rd gets the old value, memory the result`, () => {
      const mem = setup();
      mem.writeU32(DATA_BASE + 8, old);
      const { hart, stop } = runProgram([A.li(1, DATA_BASE + 8), A.li(2, src), enc(3, 1, 2), A.ebreak()], {
        mem,
      });
      expect(stop).toBe(Stop.Ebreak);
      expect(hart.x[3]).toBe(old);
      expect(mem.readU32(DATA_BASE + 8) | 0).toBe(result);
    });
  }

  it("rd = rs2 reads the source before writing the old value", () => {
    const mem = setup();
    mem.writeU32(DATA_BASE, 10);
    const { hart } = runProgram(
      [A.li(1, DATA_BASE), A.addi(2, 0, 5), A.amoadd_w(2, 1, 2, 1, 1), A.ebreak()],
      { mem },
    );
    expect(hart.x[2]).toBe(10);
    expect(mem.readU32(DATA_BASE)).toBe(15);
  });

  it("an AMO breaks a reservation on its word", () => {
    const mem = setup();
    mem.writeWords(CODE_BASE, [A.li(1, DATA_BASE), A.lr_w(2, 1), A.sc_w(3, 1, 2), A.ebreak()].flat());
    mem.writeWords(CODE_BASE + 0x100, [A.li(1, DATA_BASE), A.amoor_w(0, 1, 0), A.ebreak()].flat());
    const a = new Hart(mem);
    a.pc = CODE_BASE;
    a.run(3);
    const b = new Hart(mem);
    b.pc = CODE_BASE + 0x100;
    b.run(10);
    a.run(10);
    expect(a.x[3]).toBe(1);
  });

  it("misaligned AMO → Stop.Misaligned, memory untouched", () => {
    const mem = setup();
    const { hart, stop } = runProgram(
      [A.li(1, DATA_BASE + 6), A.addi(2, 0, 1), A.amoadd_w(3, 1, 2), A.ebreak()],
      {
        mem,
      },
    );
    expect(stop).toBe(Stop.Misaligned);
    expect(hart.trapValue).toBe(DATA_BASE + 6);
    expect(mem.readU32(DATA_BASE + 4)).toBe(0);
  });

  it("an AMO on a read-only page → AccessError", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_R);
    const { hart, stop } = runProgram([A.li(1, DATA_BASE), A.amoswap_w(3, 1, 0), A.ebreak()], { mem });
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.AccessError);
    expect(hart.x[3]).toBe(0);
  });

  it("a spin lock built from amoswap and a counter from LR/SC work across two harts", () => {
    const mem = setup();
    const lock = DATA_BASE;
    const counter = DATA_BASE + 64;
    // acquire: amoswap.w.aq t0, 1, (lock); bnez t0, acquire
    // LR/SC increment of counter; release: amoswap.w.rl x0, x0, (lock); loop 50 times
    const prog = [
      A.li(1, lock),
      A.li(4, counter),
      A.addi(6, 0, 50),
      A.addi(2, 0, 1),
      A.amoswap_w(5, 1, 2, 1, 0), // acquire
      A.bne(5, 0, -4),
      A.lr_w(7, 4), // retry
      A.addi(7, 7, 1),
      A.sc_w(8, 4, 7),
      A.bne(8, 0, -12),
      A.amoswap_w(0, 1, 0, 0, 1), // release
      A.addi(6, 6, -1),
      A.bne(6, 0, -32),
      A.ebreak(),
    ];
    mem.writeWords(CODE_BASE, prog.flat());
    const harts = [new Hart(mem), new Hart(mem)];
    for (const h of harts) h.pc = CODE_BASE;
    const done = [false, false];
    for (let round = 0; round < 10_000 && !(done[0] && done[1]); round++) {
      for (let i = 0; i < 2; i++) {
        if (done[i]) continue;
        const s = harts[i]!.run(3 + i); // odd slices interleave inside the critical sections
        if (s === Stop.Ebreak) done[i] = true;
        else expect(s).toBe(Stop.Budget);
      }
    }
    expect(done).toEqual([true, true]);
    expect(mem.readU32(counter)).toBe(100);
    expect(mem.readU32(lock)).toBe(0);
  });
});
