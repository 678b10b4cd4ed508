import { PROT_EXEC, PROT_READ, PROT_WRITE, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { PhysExhaustedError } from "./errors.ts";
import { arrayPhysMemory, PhysAllocator } from "./phys-memory.ts";
import { copyinGuest, copyoutGuestKernel, pteFlags, Sv32Pmap } from "./pmap-sv32.ts";

const setup = (pages = 16) => {
  const buffer = new Uint8Array(pages * 4096);
  const mem = arrayPhysMemory(buffer);
  const alloc = new PhysAllocator(pages);
  return { buffer, mem, alloc, pmap: new Sv32Pmap(mem, alloc) };
};

describe("Sv32Pmap", () => {
  it("writes a root and level-0 tables into memimage in Sv32 format", () => {
    const { buffer, alloc, pmap } = setup();
    expect(pmap.root).toBe(0x1000);
    const data = alloc.alloc();
    pmap.enter(0x0040_3000, data, pteFlags(PROT_READ));
    const view = new DataView(buffer.buffer);
    const pde = view.getUint32(pmap.root + (0x0040_3000 >>> 22) * 4, true);
    expect(pde & PTE_V).toBe(PTE_V);
    const table = (pde >>> 10) << 12;
    const pte = view.getUint32(table + 3 * 4, true);
    expect(pte).toBe(((data >>> 12) << 10) | PTE_V | PTE_U | PTE_R);
    expect(pmap.masterPde()).toBe(((pmap.root >>> 12) << 10) | PTE_V);
  });

  it("translates only mapped user pages with the permissions asked", () => {
    const { alloc, pmap } = setup();
    const ro = alloc.alloc();
    const rw = alloc.alloc();
    pmap.enter(0x10000, ro, pteFlags(PROT_READ | PROT_EXEC));
    pmap.enter(0x11000, rw, pteFlags(PROT_READ | PROT_WRITE));
    expect(pmap.translate(0x10010, PTE_R)).toBe(ro + 0x10);
    expect(pmap.translate(0x10010, PTE_X)).toBe(ro + 0x10);
    expect(pmap.translate(0x10010, PTE_W)).toBeNull();
    expect(pmap.translate(0x11ffc, PTE_W)).toBe(rw + 0xffc);
    expect(pmap.translate(0x12000, PTE_R)).toBeNull();
    expect(pmap.translate(0x8000_0000, PTE_R)).toBeNull();
  });

  it("shares a level-0 table within a 4 MiB region and adds one for another", () => {
    const { alloc, pmap } = setup();
    pmap.enter(0x10000, alloc.alloc(), pteFlags(PROT_READ));
    const afterFirst = alloc.next;
    pmap.enter(0x20000, alloc.alloc(), pteFlags(PROT_READ));
    expect(alloc.next).toBe(afterFirst + 1);
    pmap.enter(0x0080_0000, alloc.alloc(), pteFlags(PROT_READ));
    expect(alloc.next).toBe(afterFirst + 3);
  });

  it("copies guest bytes across a page boundary and stops at a hole", () => {
    const { mem, alloc, pmap } = setup();
    pmap.enter(0x10000, alloc.alloc(), pteFlags(PROT_READ | PROT_WRITE));
    pmap.enter(0x11000, alloc.alloc(), pteFlags(PROT_READ | PROT_WRITE));
    const bytes = new TextEncoder().encode("across the boundary");
    expect(copyoutGuestKernel(pmap, mem, 0x10ff8, bytes)).toBe(true);
    expect(copyinGuest(pmap, mem, 0x10ff8, bytes.length)).toEqual(bytes);
    expect(copyinGuest(pmap, mem, 0x11ff8, 16)).toBeNull();
    expect(copyoutGuestKernel(pmap, mem, 0x11ff8, bytes)).toBe(false);
  });
});

describe("PhysAllocator", () => {
  it("hands out pages lowest first, never page 0, and says when memimage is full", () => {
    const alloc = new PhysAllocator(3);
    expect(alloc.alloc()).toBe(0x1000);
    expect(alloc.alloc()).toBe(0x2000);
    expect(() => alloc.alloc()).toThrow(PhysExhaustedError);
  });
});
