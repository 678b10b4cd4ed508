import { readFileSync } from "node:fs";
import { PTE_R, PTE_V, PTE_W, PTE_X, parseElf } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { GuestLoadError } from "./errors.ts";
import { loadGuest } from "./guest-loader.ts";
import { GUEST_STACK_PAGES, GUEST_STACK_TOP } from "./memimage-layout.ts";
import { arrayPhysMemory, PhysAllocator } from "./phys-memory.ts";
import { copyinGuest, Sv32Pmap } from "./pmap-sv32.ts";

const hello = new Uint8Array(readFileSync(new URL("../../host-kernel/guest/bin/hello.elf", import.meta.url)));
const PAGES = 256;

const load = () => {
  const mem = arrayPhysMemory(new Uint8Array(PAGES * 4096));
  const alloc = new PhysAllocator(PAGES);
  const guest = loadGuest(mem, alloc, { elf: hello, argv: ["hello", "a b"] });
  return { mem, alloc, guest, pmap: new Sv32Pmap(mem, alloc, guest.root) };
};

describe("loadGuest", () => {
  it("maps every segment with its permissions and its file bytes", () => {
    const { mem, guest, pmap } = load();
    const elf = parseElf(hello);
    expect(guest.entry).toBe(elf.entry);
    for (const s of elf.segments) {
      const bytes = copyinGuest(pmap, mem, s.vaddr, s.filesz);
      expect(bytes).toEqual(hello.subarray(s.offset, s.offset + s.filesz));
      if ((s.prot & 4) !== 0) expect(pmap.translate(s.vaddr, PTE_X)).not.toBeNull();
      if ((s.prot & 2) === 0) expect(pmap.translate(s.vaddr, PTE_W)).toBeNull();
    }
    expect(pmap.translate(elf.entry, PTE_X | PTE_R)).not.toBeNull();
  });

  it("builds the initial stack: argc and argv strings below the stack top", () => {
    const { mem, guest, pmap } = load();
    expect(guest.sp % 16).toBe(0);
    expect(guest.sp).toBeGreaterThanOrEqual(GUEST_STACK_TOP - GUEST_STACK_PAGES * 4096);
    const argc = copyinGuest(pmap, mem, guest.sp, 4);
    expect(argc).toEqual(new Uint8Array([2, 0, 0, 0]));
    const top = copyinGuest(pmap, mem, GUEST_STACK_TOP - 4096, 4096);
    expect(new TextDecoder().decode(top ?? new Uint8Array())).toContain("a b\0");
  });

  it("never maps the page tables into the guest (guests cannot reach the vkernel's data)", () => {
    const { mem, guest } = load();
    const word = (phys: number): number => {
      const b = mem.read(phys, 4);
      return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    };
    const tables = [guest.root];
    const leaves = new Set<number>();
    for (let i = 0; i < 1024; i++) {
      const pde = word(guest.root + i * 4);
      if ((pde & PTE_V) === 0) continue;
      const table = (pde >>> 10) << 12;
      tables.push(table);
      for (let j = 0; j < 1024; j++) {
        const pte = word(table + j * 4);
        if ((pte & PTE_V) !== 0) leaves.add((pte >>> 10) << 12);
      }
    }
    expect(tables.length).toBeGreaterThanOrEqual(3);
    for (const t of tables) expect(leaves.has(t)).toBe(false);
  });

  it("rejects bytes that are not an ELF with a GuestLoadError", () => {
    const mem = arrayPhysMemory(new Uint8Array(16 * 4096));
    expect(() => loadGuest(mem, new PhysAllocator(16), { elf: new Uint8Array(10), argv: [] })).toThrow(
      GuestLoadError,
    );
  });
});
