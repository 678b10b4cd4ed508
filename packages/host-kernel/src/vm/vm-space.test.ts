import { describe, expect, it } from "vitest";
import { Access, Fault, PAGE_SIZE } from "../cpu/cpu-types.ts";
import { VmObject, ZERO_PAGE } from "./vm-object.ts";
import { VmObjectIds, VmSpace } from "./vm-space.ts";
import { ENTRY_SHARED, MMAP_BASE, PROT_EXEC, PROT_READ, PROT_WRITE } from "./vm-types.ts";

const RW = PROT_READ | PROT_WRITE;
const space = () => new VmSpace(new VmObjectIds());

describe("VmSpace", () => {
  it("returns the shared zero page for reads of untouched anonymous memory", () => {
    const vm = space();
    const a = vm.map({ addr: 0x10000, len: 8192, prot: RW, flags: 0, fixed: true });
    expect(a).toBe(0x10000);
    expect(vm.translate(0x10004, Access.Read)).toBe(ZERO_PAGE);
    const obj = vm.entries[0]?.object as VmObject;
    expect(obj.pages.size).toBe(0);
    const page = vm.translate(0x10004, Access.Write) as Uint8Array;
    expect(page).not.toBe(ZERO_PAGE);
    expect(obj.dirty.has(0)).toBe(true);
    expect(obj.dirty.has(1)).toBe(false);
    page[4] = 7;
    expect((vm.translate(0x10000, Access.Read) as Uint8Array)[4]).toBe(7);
  });

  it("checks permissions and unmapped addresses", () => {
    const vm = space();
    vm.map({ addr: 0x20000, len: 4096, prot: PROT_READ, flags: 0, fixed: true });
    expect(vm.translate(0x20000, Access.Write)).toBe(Fault.AccessError);
    expect(vm.translate(0x20000, Access.Execute)).toBe(Fault.AccessError);
    expect(vm.translate(0x21000, Access.Read)).toBe(Fault.MapError);
    expect(vm.copyout(0x20000, new Uint8Array([1]))).toBe(-14);
    expect(vm.copyin(0x20ffe, 4)).toBe(-14);
  });

  it("reads and writes words in place as copyin/copyout would: faults, dirty bits, reservations", () => {
    const vm = space();
    vm.map({ addr: 0x30000, len: 8192, prot: RW, flags: 0, fixed: true });
    vm.map({ addr: 0x40000, len: 4096, prot: PROT_READ, flags: 0, fixed: true });
    expect(vm.readU32(0x30010)).toBe(0); // untouched: the zero page
    expect(vm.writeU32(0x30010, 0xdeadbeef)).toBe(0);
    expect(vm.readU32(0x30010)).toBe(0xdeadbeef);
    expect(Array.from(vm.copyin(0x30010, 4) as Uint8Array)).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect((vm.entries[0]!.object as VmObject).dirty.has(0)).toBe(true);
    // a word across a page boundary takes the copy path, with the same result
    expect(vm.writeU32(0x30ffe, 0x01020304)).toBe(0);
    expect(vm.readU32(0x30ffe)).toBe(0x01020304);
    // faults
    expect(vm.writeU32(0x40000, 1)).toBe(-14);
    expect(vm.readU32(0x50000)).toBeNull();
    // a kernel store breaks an LR reservation on that word, not on its neighbour's
    const a = {};
    const b = {};
    vm.reservations.reserve(a, 0x30010);
    vm.reservations.reserve(b, 0x30014);
    vm.writeU32(0x30010, 7);
    expect(vm.reservations.consume(a, 0x30010)).toBe(false);
    expect(vm.reservations.consume(b, 0x30014)).toBe(true);
  });

  it("peeks at bytes in place within a page, copies across pages, and faults like copyin", () => {
    const vm = space();
    vm.map({ addr: 0x30000, len: 8192, prot: RW, flags: 0, fixed: true });
    vm.copyout(0x30ffc, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const inPage = vm.peek(0x30ff8, 8) as Uint8Array;
    expect(Array.from(inPage)).toEqual([0, 0, 0, 0, 1, 2, 3, 4]);
    expect(inPage.buffer).toBe((vm.translate(0x30000, Access.Read) as Uint8Array).buffer); // a view
    expect(Array.from(vm.peek(0x30ffc, 8) as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(vm.peek(0x50000, 4)).toBe(-14);
  });

  it("places non-fixed maps top-down below the mmap base and rounds lengths", () => {
    const vm = space();
    const a = vm.map({ addr: 0, len: 100, prot: RW, flags: 0, fixed: false });
    const b = vm.map({ addr: 0, len: 5000, prot: RW, flags: 0, fixed: false });
    expect(a).toBe(MMAP_BASE - PAGE_SIZE);
    expect(b).toBe(MMAP_BASE - 3 * PAGE_SIZE);
    expect(vm.map({ addr: 0x1001, len: 10, prot: RW, flags: 0, fixed: true })).toBe(-22);
    expect(vm.map({ addr: 0, len: 0, prot: RW, flags: 0, fixed: false })).toBe(-22);
    expect(vm.map({ addr: 0, len: 0xf000_0000, prot: RW, flags: 0, fixed: false })).toBe(-12);
  });

  it("MAP_FIXED replaces existing mappings and munmap splits entries", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: 4 * PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    vm.poke(0x10000, new Uint8Array(4 * PAGE_SIZE).fill(9));
    vm.map({ addr: 0x11000, len: PAGE_SIZE, prot: PROT_READ, flags: 0, fixed: true });
    expect(vm.entries.map((e) => [e.start, e.end])).toEqual([
      [0x10000, 0x11000],
      [0x11000, 0x12000],
      [0x12000, 0x14000],
    ]);
    expect((vm.copyin(0x11000, 1) as Uint8Array)[0]).toBe(0);
    expect((vm.copyin(0x12000, 1) as Uint8Array)[0]).toBe(9);
    expect(vm.unmap(0x12000, 1)).toBe(0);
    expect(vm.translate(0x12000, Access.Read)).toBe(Fault.MapError);
    expect((vm.copyin(0x13000, 1) as Uint8Array)[0]).toBe(9);
    expect(vm.unmap(0x12001, 1)).toBe(-22);
    expect(vm.unmap(0x50000, PAGE_SIZE)).toBe(0);
  });

  it("mprotect splits, merges back and reports holes", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: 3 * PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    expect(vm.protect(0x11000, PAGE_SIZE, PROT_READ)).toBe(0);
    expect(vm.entries).toHaveLength(3);
    expect(vm.translate(0x11000, Access.Write)).toBe(Fault.AccessError);
    expect(vm.protect(0x11000, PAGE_SIZE, RW)).toBe(0);
    expect(vm.entries).toHaveLength(1);
    expect(vm.protect(0x10000, 5 * PAGE_SIZE, PROT_READ)).toBe(-12);
    expect(vm.protect(0x10001, PAGE_SIZE, PROT_READ)).toBe(-22);
    const gen = vm.generation;
    vm.protect(0x10000, PAGE_SIZE, PROT_READ | PROT_EXEC);
    expect(vm.generation).toBeGreaterThan(gen);
  });

  it("brk grows and shrinks the heap with Linux semantics", () => {
    const vm = space();
    vm.brkBase = 0x40000;
    vm.brk = 0x40000;
    expect(vm.setBrk(0)).toBe(0x40000);
    expect(vm.setBrk(0x40010)).toBe(0x40010);
    expect(vm.copyout(0x40ff0, new Uint8Array(16))).toBe(0);
    expect(vm.setBrk(0x42000)).toBe(0x42000);
    expect(vm.entries).toHaveLength(1);
    expect(vm.copyout(0x41ff0, new Uint8Array(16))).toBe(0);
    expect(vm.setBrk(0x41000)).toBe(0x41000);
    expect(vm.copyout(0x41000, new Uint8Array(1))).toBe(-14);
    expect(vm.setBrk(0x3000)).toBe(0x41000);
    vm.map({ addr: 0x50000, len: PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    expect(vm.setBrk(0x60000)).toBe(0x41000);
  });

  it("clearDirty forgets dirty pages and bumps the generation", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    vm.copyout(0x10000, new Uint8Array([1]));
    const obj = vm.entries[0]?.object as VmObject;
    expect([...obj.dirty]).toEqual([0]);
    const gen = vm.generation;
    vm.clearDirty();
    expect(obj.dirty.size).toBe(0);
    expect(vm.generation).toBeGreaterThan(gen);
  });

  it("maps file objects copy-on-read and never writes the source", () => {
    const vm = space();
    const bytes = new Uint8Array(6000).fill(3);
    const obj = new VmObject(99, "file", 2, { bytes, path: "/f", offset: 0 });
    vm.map({ addr: 0x10000, len: 8192, prot: RW, flags: 0, fixed: true, object: obj });
    expect((vm.copyin(0x11000 + 6000 - 4096 - 1, 2) as Uint8Array)[0]).toBe(3);
    expect((vm.copyin(0x11000 + 6000 - 4096, 1) as Uint8Array)[0]).toBe(0);
    vm.copyout(0x10000, new Uint8Array([7]));
    expect(bytes[0]).toBe(3);
    expect(obj.dirty.has(0)).toBe(true);
  });

  it("copyinstr reads NUL-terminated strings and faults past the mapping", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    vm.poke(0x10000, new TextEncoder().encode("hello\0"));
    expect(vm.copyinstr(0x10000, 64)).toBe("hello");
    expect(vm.copyinstr(0x10000, 3)).toBe(-36);
    vm.poke(0x10ffe, new Uint8Array([65, 66]));
    expect(vm.copyinstr(0x10ffe, 64)).toBe(-14);
  });

  it("fork shares pages copy-on-write and keeps shared mappings shared", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    vm.map({ addr: 0x20000, len: PAGE_SIZE, prot: RW, flags: ENTRY_SHARED, fixed: true });
    vm.copyout(0x10000, new Uint8Array([1]));
    const child = vm.fork();
    expect(child.translate(0x10000, Access.Read)).toBe(vm.translate(0x10000, Access.Read));
    child.copyout(0x10000, new Uint8Array([2]));
    expect((vm.copyin(0x10000, 1) as Uint8Array)[0]).toBe(1);
    expect((child.copyin(0x10000, 1) as Uint8Array)[0]).toBe(2);
    vm.copyout(0x20000, new Uint8Array([5]));
    expect((child.copyin(0x20000, 1) as Uint8Array)[0]).toBe(5);
  });
});

describe("VmSpace generation", () => {
  it("changes when a page read as the zero page is first written (stale read TLB entries)", () => {
    const vm = space();
    vm.map({ addr: 0x10000, len: PAGE_SIZE, prot: RW, flags: 0, fixed: true });
    expect(vm.translate(0x10000, Access.Read)).toBe(ZERO_PAGE);
    const gen = vm.generation;
    vm.translate(0x10000, Access.Write);
    expect(vm.generation).not.toBe(gen);
    const gen2 = vm.generation;
    vm.translate(0x10000, Access.Write);
    expect(vm.generation).toBe(gen2);
  });
});

describe("VPAGETABLE entries (Sv32 inside the object)", () => {
  const pte = (ppn: number, bits: number) => ((ppn << 10) | bits) >>> 0;
  const V = 1;
  const R = 2;
  const W = 4;
  const U = 16;
  const A = 64;
  const D = 128;

  function setup() {
    const vm = space();
    const mem = new VmObject(50, "anon", 2048);
    const put = (at: number, v: number) => {
      const p = mem.pageForWrite(Math.floor(at / PAGE_SIZE));
      new DataView(p.buffer).setUint32(at % PAGE_SIZE, v, true);
    };
    const get = (at: number) =>
      new DataView(mem.pageForRead(Math.floor(at / PAGE_SIZE)).buffer).getUint32(at % PAGE_SIZE, true);
    // root table in page 0; level-0 table in page 1; data in page 5
    put(0x40 * 4, pte(1, V)); // VA 0x10000000..0x103fffff → table at page 1
    put(PAGE_SIZE + 3 * 4, pte(5, V | R | W | U)); // VA 0x10003000 → page 5
    put(PAGE_SIZE + 4 * 4, pte(6, V | R)); // VA 0x10004000 → page 6, supervisor only
    put(0x41 * 4, pte(1 << 10, V | R | U)); // VA 0x10400000: a 4 MiB superpage at page 1024
    const start = 0x1000_0000;
    vm.map({
      addr: start,
      len: 8 * 1024 * 1024,
      prot: RW,
      flags: ENTRY_SHARED,
      fixed: true,
      object: mem,
      type: "vpagetable",
      masterPde: 0,
    });
    return { vm, mem, put, get, start };
  }

  it("faults until the master PDE is set, then walks the tables", () => {
    const { vm, mem, get, start } = setup();
    expect(vm.translate(start + 0x3000, Access.Read)).toBe(Fault.MapError);
    expect(vm.setMasterPde(start, pte(0, V))).toBe(0);
    expect(vm.setMasterPde(0x10000, pte(0, V))).toBe(-22);
    expect(vm.translate(start + 0x3000, Access.Read)).toBe(mem.pageForRead(5));
    expect(get(PAGE_SIZE + 12) & (A | D)).toBe(A);
    const w = vm.translate(start + 0x3000, Access.Write) as Uint8Array;
    w[7] = 9;
    expect(mem.pages.get(5)?.[7]).toBe(9);
    expect(get(PAGE_SIZE + 12) & (A | D)).toBe(A | D);
    expect(mem.dirty.has(5)).toBe(true);
  });

  it("checks validity, the U bit and leaf permissions; superpages map 4 MiB", () => {
    const { vm, start } = setup();
    vm.setMasterPde(start, pte(0, V));
    expect(vm.translate(start + 0x5000, Access.Read)).toBe(Fault.MapError);
    expect(vm.translate(start + 0x4000, Access.Read)).toBe(Fault.AccessError);
    expect(vm.translate(start + 0x3000, Access.Execute)).toBe(Fault.AccessError);
    expect(vm.translate(start + 0x40_2000, Access.Read)).toBe(ZERO_PAGE);
    expect(vm.translate(start + 0x40_2000, Access.Write)).toBe(Fault.AccessError);
  });
});
