import { describe, expect, it } from "vitest";
import { Fault, PAGE_SIZE, Stop } from "./cpu-types.ts";
import { invalidateDecodedPage } from "./decode-cache.ts";
import { Hart } from "./hart.ts";
import * as A from "./test-asm.ts";
import {
  CODE_BASE,
  DATA_BASE,
  PROT_R,
  PROT_RW,
  PROT_RWX,
  PROT_RX,
  runProgram,
  TestMemory,
} from "./test-memory.ts";

function withData(bytes: number[], program: (number | number[])[]): ReturnType<typeof runProgram> {
  const mem = new TestMemory();
  mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
  mem.map(DATA_BASE, 2 * PAGE_SIZE, PROT_RW);
  mem.writeBytes(DATA_BASE, bytes);
  return runProgram([A.li(1, DATA_BASE), ...program, A.ebreak()], { mem });
}

describe("loads", () => {
  it("sign- and zero-extend bytes and halfwords", () => {
    const { hart } = withData(
      [0x80, 0xff, 0x7f, 0x81, 0x01, 0x02, 0x03, 0x84],
      [
        A.lb(2, 1, 0),
        A.lbu(3, 1, 0),
        A.lh(4, 1, 0),
        A.lhu(5, 1, 0),
        A.lh(6, 1, 2),
        A.lw(7, 1, 4),
        A.lb(8, 1, 2),
      ],
    );
    expect(hart.x[2]).toBe(-128);
    expect(hart.x[3]).toBe(0x80);
    expect(hart.x[4]).toBe(0xff80 - 0x10000);
    expect(hart.x[5]).toBe(0xff80);
    expect(hart.x[6]).toBe(0x817f - 0x10000);
    expect(hart.x[7]! >>> 0).toBe(0x84030201);
    expect(hart.x[8]).toBe(0x7f);
  });

  it("uses negative offsets", () => {
    const { hart } = withData([1, 2, 3, 4, 5, 6, 7, 8], [A.addi(1, 1, 8), A.lw(2, 1, -4), A.lbu(3, 1, -8)]);
    expect(hart.x[2]).toBe(0x08070605);
    expect(hart.x[3]).toBe(1);
  });

  it("a load into x0 still happens (and can fault) but leaves x0 at 0", () => {
    const { hart, stop } = withData([9, 9, 9, 9], [A.lw(0, 1, 0), A.lw(0, 0, 0)]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.trapValue).toBe(0);
    expect(hart.x[0]).toBe(0);
  });
});

describe("stores", () => {
  it("write 8, 16 and 32 bits little-endian", () => {
    const { mem } = withData(
      [],
      [A.li(2, 0x11223344), A.sw(2, 1, 0), A.sh(2, 1, 4), A.sb(2, 1, 6), A.sb(2, 1, 7), A.sh(2, 1, 10)],
    );
    expect([...mem.readBytes(DATA_BASE, 12)]).toEqual([
      0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x44, 0x44, 0, 0, 0x44, 0x33,
    ]);
  });

  it("store then load round-trips through the TLB", () => {
    const { hart } = withData([], [A.li(2, -123456789), A.sw(2, 1, 100), A.lw(3, 1, 100), A.lh(4, 1, 102)]);
    expect(hart.x[3]).toBe(-123456789);
    expect(hart.x[4]).toBe(-123456789 >> 16);
  });
});

describe("misaligned loads and stores", () => {
  it("split across a page boundary, both pages translated", () => {
    const edge = DATA_BASE + PAGE_SIZE;
    const { hart, mem, stop } = withData(
      [],
      [
        A.li(5, edge - 2),
        A.li(2, 0xa1b2c3d4),
        A.sw(2, 5, 0),
        A.lw(3, 5, 0),
        A.lh(4, 5, 1),
        A.lhu(6, 5, 1),
        A.sh(2, 5, 1),
        A.lw(7, 5, 0),
      ],
    );
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[3]! >>> 0).toBe(0xa1b2c3d4);
    expect(hart.x[4]).toBe(0xb2c3 - 0x10000);
    expect(hart.x[6]).toBe(0xb2c3);
    expect([...mem.readBytes(edge - 2, 4)]).toEqual([0xd4, 0xd4, 0xc3, 0xa1]);
    expect(hart.x[7]! >>> 0).toBe(0xa1c3d4d4);
  });

  it("misaligned within a page too", () => {
    const { hart } = withData([1, 2, 3, 4, 5, 6, 7, 8], [A.lw(2, 1, 1), A.lh(3, 1, 3)]);
    expect(hart.x[2]).toBe(0x05040302);
    expect(hart.x[3]).toBe(0x0504);
  });

  it("a misaligned store whose second page is unmapped faults and writes nothing", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    const edge = DATA_BASE + PAGE_SIZE;
    const { hart, stop } = runProgram([A.li(5, edge - 2), A.li(2, -1), A.sw(2, 5, 0), A.ebreak()], { mem });
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.MapError);
    expect(hart.trapValue).toBe(edge);
    expect(hart.pc).toBe(CODE_BASE + 16);
    expect([...mem.readBytes(edge - 2, 2)]).toEqual([0, 0]);
  });
});

describe("faults", () => {
  it("an unmapped read → MemoryFault/MapError with the address; not retired", () => {
    const { hart, stop } = runProgram([A.li(1, 0x5000_0000), A.lw(2, 1, 8), A.ebreak()]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.MapError);
    expect(hart.trapValue).toBe(0x5000_0008);
    expect(hart.pc).toBe(CODE_BASE + 8);
    expect(hart.retired).toBe(2);
  });

  it("an unmapped write → MapError", () => {
    const { hart, stop } = runProgram([A.li(1, 0xc000_0000), A.sb(1, 1, -1), A.ebreak()]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.MapError);
    expect(hart.trapValue).toBe(0xbfff_ffff);
  });

  it("a write to a read-only page → AccessError", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_R);
    const { hart, stop } = runProgram([A.li(1, DATA_BASE), A.lw(3, 1, 0), A.sw(3, 1, 4), A.ebreak()], {
      mem,
    });
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.AccessError);
    expect(hart.trapValue).toBe(DATA_BASE + 4);
  });

  it("a store into the code page (RX) → AccessError", () => {
    const { hart, stop } = runProgram([A.li(1, CODE_BASE), A.sw(0, 1, 0), A.ebreak()]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.AccessError);
  });

  it("fetching from an unmapped page → MapError at pc", () => {
    const { hart, stop } = runProgram([A.li(1, 0x40000), A.jalr(0, 1, 0)]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.MapError);
    expect(hart.trapValue).toBe(0x40000);
    expect(hart.pc).toBe(0x40000);
    expect(hart.retired).toBe(3);
  });

  it("fetching from a non-executable page → AccessError", () => {
    const { hart, stop } = runProgram([A.li(1, DATA_BASE), A.jalr(0, 1, 0)]);
    expect(stop).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.AccessError);
    expect(hart.pc).toBe(DATA_BASE);
  });

  it("running off the end of the code into an unmapped page faults at the page", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.writeWords(CODE_BASE + PAGE_SIZE - 4, [A.addi(1, 1, 1)]);
    const hart = new Hart(mem);
    hart.pc = CODE_BASE + PAGE_SIZE - 4;
    expect(hart.run(10)).toBe(Stop.MemoryFault);
    expect(hart.pc).toBe(CODE_BASE + PAGE_SIZE);
    expect(hart.x[1]).toBe(1);
  });
});

describe("software TLB", () => {
  it("translates once per page and access kind, then hits", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    // 100 iterations of a load and a store to the same page
    const { hart } = runProgram(
      [
        A.li(1, DATA_BASE),
        A.addi(2, 0, 100),
        A.lw(3, 1, 0),
        A.sw(3, 1, 4),
        A.addi(2, 2, -1),
        A.bne(2, 0, -12),
        A.ebreak(),
      ],
      { mem },
    );
    expect(hart.x[2]).toBe(0);
    expect(mem.translations).toBe(3); // execute, read, write
  });

  it("flushes when the address space's generation changes", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    mem.writeU32(DATA_BASE, 1);
    const prog = [A.li(1, DATA_BASE), A.lw(2, 1, 0), A.ebreak()];
    const { hart } = runProgram(prog, { mem });
    expect(hart.x[2]).toBe(1);
    // Replace the data page behind the TLB's back, with a new generation.
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    mem.writeU32(DATA_BASE, 2);
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(hart.x[2]).toBe(2);
  });

  it("keeps stale translations while the generation is unchanged (so the kernel must bump it)", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    const { hart } = runProgram([A.li(1, DATA_BASE), A.lw(2, 1, 0), A.ebreak()], { mem });
    const before = mem.translations;
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(mem.translations).toBe(before);
    hart.flushTlb();
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(mem.translations).toBe(before + 2);
  });

  it("sees an mprotect to read-only once the generation moved", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    const { hart, stop } = runProgram([A.li(1, DATA_BASE), A.sw(1, 1, 0), A.ebreak()], { mem });
    expect(stop).toBe(Stop.Ebreak);
    mem.protect(DATA_BASE, PAGE_SIZE, PROT_R);
    hart.pc = CODE_BASE;
    expect(hart.run(10)).toBe(Stop.MemoryFault);
    expect(hart.fault).toBe(Fault.AccessError);
  });

  it("switching `mem` flushes and uses the new address space", () => {
    const a = new TestMemory();
    const b = new TestMemory();
    for (const m of [a, b]) {
      m.map(CODE_BASE, PAGE_SIZE, PROT_RX);
      m.map(DATA_BASE, PAGE_SIZE, PROT_RW);
      m.writeWords(CODE_BASE, [A.li(1, DATA_BASE), A.lw(2, 1, 0), A.ebreak()].flat());
    }
    a.writeU32(DATA_BASE, 111);
    b.writeU32(DATA_BASE, 222);
    const hart = new Hart(a);
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(hart.x[2]).toBe(111);
    hart.mem = b;
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(hart.x[2]).toBe(222);
  });
});

describe("decode cache", () => {
  it("a store into a code page invalidates the decoded instruction (self-modifying code)", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RWX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RW);
    // 0,4: li x1, CODE_BASE ; 8,12: li x2, <addi x5,x5,100>
    // 16: loop: addi x5, x5, 1 ; 20: addi x6, x6, 1 ; 24: sw x2, 16(x1) ; 28: addi x7,x0,2 ; 32: blt x6, x7, -16 ; 36: ebreak
    const prog = [
      A.li(1, CODE_BASE),
      A.li(2, A.addi(5, 5, 100)),
      A.addi(5, 5, 1),
      A.addi(6, 6, 1),
      A.sw(2, 1, 16),
      A.addi(7, 0, 2),
      A.blt(6, 7, -16),
      A.ebreak(),
    ];
    const { hart, stop } = runProgram(prog, { mem });
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[5]).toBe(101);
  });

  it("a store to the very next instruction is seen", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RWX);
    // 0,4: li x2, <addi x9,x0,55> ; 8,12: li x1, CODE_BASE ; 16: sw x2, 20(x1) ; 20: addi x9,x0,1
    const prog = [A.li(2, A.addi(9, 0, 55)), A.li(1, CODE_BASE), A.sw(2, 1, 20), A.addi(9, 0, 1), A.ebreak()];
    const { hart } = runProgram(prog, { mem });
    expect(hart.x[9]).toBe(55);
  });

  it("a store through a warm TLB entry to a later instruction of the same run is seen", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RWX);
    const prog = [
      A.li(1, CODE_BASE),
      A.li(2, A.addi(9, 9, 100)),
      A.sw(0, 1, 0x7fc), // warms the write TLB for the code page
      A.jal(0, 4),
      A.sw(2, 1, 28), // rewrites the next instruction
      A.addi(9, 9, 1),
      A.ebreak(),
    ];
    const { hart, stop } = runProgram(prog, { mem });
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[9]).toBe(100);
  });

  it("a store through a TLB entry filled before the page was first executed still invalidates", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RWX);
    // Write "addi x8,x8,1 ; jalr x0, 0(x31)" into DATA_BASE, call it, overwrite it, call again.
    const body = [A.addi(8, 8, 1), A.jalr(0, 31, 0)];
    const prog = [
      A.li(1, DATA_BASE),
      A.li(2, body[0]!),
      A.sw(2, 1, 0),
      A.li(2, body[1]!),
      A.sw(2, 1, 4),
      A.jalr(31, 1, 0), // call: executes the data page (decode record created now)
      A.li(2, A.addi(8, 8, 10)),
      A.sw(2, 1, 0), // the write TLB entry predates the decode record
      A.jalr(31, 1, 0),
      A.ebreak(),
    ];
    const { hart, stop } = runProgram(prog, { mem });
    expect(stop).toBe(Stop.Ebreak);
    expect(hart.x[8]).toBe(11);
  });

  it("a store by another hart invalidates code this hart has decoded", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RWX);
    mem.writeWords(DATA_BASE, [A.addi(10, 10, 1), A.ebreak()]);
    // The writer stores into the routine twice; its write TLB entry is filled by the first
    // store, before the runner ever decoded the page.
    mem.writeWords(
      CODE_BASE,
      [
        A.li(1, DATA_BASE),
        A.li(2, A.addi(10, 10, 1)),
        A.sw(2, 1, 0),
        A.li(2, A.addi(10, 10, 5)),
        A.sw(2, 1, 0),
        A.ebreak(),
      ].flat(),
    );
    const writer = new Hart(mem);
    writer.pc = CODE_BASE;
    expect(writer.run(5)).toBe(Stop.Budget);
    const runner = new Hart(mem);
    runner.pc = DATA_BASE;
    expect(runner.run(10)).toBe(Stop.Ebreak);
    expect(runner.x[10]).toBe(1);
    expect(writer.run(10)).toBe(Stop.Ebreak);
    runner.pc = DATA_BASE;
    runner.run(10);
    expect(runner.x[10]).toBe(6);
  });

  it("a kernel write is seen after invalidateDecodedPage (or FENCE.I)", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.writeWords(CODE_BASE, [A.addi(10, 10, 1), A.ebreak()]);
    const hart = new Hart(mem);
    hart.pc = CODE_BASE;
    hart.run(10);
    mem.writeWords(CODE_BASE, [A.addi(10, 10, 7)]); // behind the hart's back
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(hart.x[10]).toBe(2); // stale decode, as documented
    invalidateDecodedPage(mem.pages.get(CODE_BASE >>> 12)!.bytes);
    hart.pc = CODE_BASE;
    hart.run(10);
    expect(hart.x[10]).toBe(9);
  });

  it("FENCE.I flushes the decode cache", () => {
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(DATA_BASE, PAGE_SIZE, PROT_RX);
    mem.writeWords(DATA_BASE, [A.addi(10, 10, 1), A.jalr(0, 1, 0)]);
    mem.writeWords(
      CODE_BASE,
      [A.li(3, DATA_BASE), A.jalr(1, 3, 0), A.fence_i(), A.jalr(1, 3, 0), A.ebreak()].flat(),
    );
    const hart = new Hart(mem);
    hart.pc = CODE_BASE;
    // Run up to (not including) the fence.i, then patch the routine behind the hart's back.
    expect(hart.run(5)).toBe(Stop.Budget);
    expect(hart.pc).toBe(CODE_BASE + 12);
    mem.writeWords(DATA_BASE, [A.addi(10, 10, 20)]);
    expect(hart.run(100)).toBe(Stop.Ebreak);
    expect(hart.x[10]).toBe(21);
  });
});
