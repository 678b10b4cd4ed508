import { PROT_EXEC, PROT_READ, PROT_WRITE, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "@vkc/host-kernel";
import type { PhysAllocator, PhysMemory } from "./phys-memory.ts";

const PTE_LEAF = PTE_R | PTE_W | PTE_X;

const word = (value: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
};

/** Sv32 leaf flags (V and U included) for PROT_* bits. */
export function pteFlags(prot: number): number {
  let f = PTE_V | PTE_U;
  if ((prot & PROT_READ) !== 0) f |= PTE_R;
  if ((prot & PROT_WRITE) !== 0) f |= PTE_W | PTE_R;
  if ((prot & PROT_EXEC) !== 0) f |= PTE_X;
  return f;
}

/**
 * One guest's RISC-V Sv32 page tables, kept in memimage (DragonFly's vkernel pmap): a root table
 * and level-0 tables taken from the allocator. All its state is in memimage except `root`, so a
 * pmap is rebuilt from its root address alone.
 */
export class Sv32Pmap {
  constructor(
    private readonly mem: PhysMemory,
    private readonly alloc: PhysAllocator,
    readonly root: number = alloc.alloc(),
  ) {}

  /** The master PDE MADV_SETMAP takes: a valid non-leaf entry pointing at the root table. */
  masterPde(): number {
    return (((this.root >>> 12) << 10) | PTE_V) >>> 0;
  }

  /** Map the page at `va` to the physical page `phys` with leaf `flags` (from `pteFlags`). */
  enter(va: number, phys: number, flags: number): void {
    const table = this.level0(va, true) as number;
    this.writeWord(table + ((va >>> 12) & 0x3ff) * 4, ((phys >>> 12) << 10) | flags | PTE_V);
  }

  /** The leaf PTE for `va`, or 0 when unmapped. */
  lookup(va: number): number {
    const table = this.level0(va, false);
    if (table === null) return 0;
    const pte = this.readWord(table + ((va >>> 12) & 0x3ff) * 4);
    return (pte & PTE_V) !== 0 && (pte & PTE_LEAF) !== 0 ? pte : 0;
  }

  /** Physical address of guest `va` for a user access needing `need` (PTE_R/W/X), or null. */
  translate(va: number, need: number): number | null {
    const pte = this.lookup(va >>> 0);
    if (pte === 0 || (pte & PTE_U) === 0 || (pte & need) !== need) return null;
    return ((pte >>> 10) << 12) + (va & 0xfff);
  }

  private level0(va: number, create: boolean): number | null {
    const at = this.root + (va >>> 22) * 4;
    const pde = this.readWord(at);
    if ((pde & PTE_V) !== 0) return (pde >>> 10) << 12;
    if (!create) return null;
    const table = this.alloc.alloc();
    this.writeWord(at, ((table >>> 12) << 10) | PTE_V);
    return table;
  }

  private readWord(phys: number): number {
    const b = this.mem.read(phys, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  private writeWord(phys: number, value: number): void {
    this.mem.write(phys, word(value));
  }
}

/** Copy `len` bytes of guest memory at `va` (readable pages only), or null on a hole. */
export function copyinGuest(pmap: Sv32Pmap, mem: PhysMemory, va: number, len: number): Uint8Array | null {
  const out = new Uint8Array(len);
  for (let done = 0; done < len; ) {
    const at = (va + done) >>> 0;
    const phys = pmap.translate(at, PTE_R);
    if (phys === null) return null;
    const n = Math.min(len - done, 4096 - (at & 0xfff));
    out.set(mem.read(phys, n), done);
    done += n;
  }
  return out;
}

/** Copy bytes into guest memory at `va` as the kernel (page permissions other than V/U ignored). */
export function copyoutGuestKernel(pmap: Sv32Pmap, mem: PhysMemory, va: number, data: Uint8Array): boolean {
  for (let done = 0; done < data.length; ) {
    const at = (va + done) >>> 0;
    const phys = pmap.translate(at, 0);
    if (phys === null) return false;
    const n = Math.min(data.length - done, 4096 - (at & 0xfff));
    mem.write(phys, data.subarray(done, done + n));
    done += n;
  }
  return true;
}
