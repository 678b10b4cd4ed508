import {
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  PTE_A,
  PTE_D,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
  signals,
  type VmMapEntry,
  type VmSpace,
} from "@vkc/host-kernel";
import { GUEST_WINDOW_END, GUEST_WINDOW_START, PAGE_BYTES } from "../memimage-layout.ts";
import type { Memimage } from "./memimage.ts";

const LEAF = PTE_R | PTE_W | PTE_X;

/** What a guest fault turned out to be after the pmap looked at it. */
export type PmapFaultResult = { kind: "resolved" } | { kind: "signal"; signo: number; code: number };

/**
 * One inner process's Sv32 page tables in memimage (DragonFly's vkernel pmap), a *cache* of its
 * inner VmSpace (DESIGN.md §2.3, simplified): `sync` compares the space's generation with the
 * one the tables were filled at and, when it moved (map, unmap, protect, brk, a COW break, fork),
 * clears the tables and refills them with every resident page; the caller then issues one
 * MADV_INVAL over the window. Faults on pages not resident yet are resolved by `fault`, which
 * enters one PTE (invalid → valid needs no invalidation).
 */
export class VkPmap {
  /** Inner VmSpace generation the tables reflect (-1: never filled). */
  gen = -1;
  /** The VmSpace the tables were filled from (exec replaces a process's space). */
  filledFrom: VmSpace | null = null;
  /** Host steps still needed to make the guest vmspace: 3 = create, mmap, SETMAP; 0 = ready. */
  setup = 3;
  /** The setup call in flight (its result is due), or null; a rebuilt pmap has none in flight. */
  setupIssued: number | null = null;
  /** An MADV_INVAL over the window is due before the next run. */
  needInval = false;
  /** A smaller MADV_INVAL range [lo, hi) due before the next run (a zero page replaced), or null. */
  invalRange: [number, number] | null = null;

  constructor(
    private readonly mem: Memimage,
    /** The guest vmspace id (0x8000_0000 | pid). */
    readonly id: number,
    /** A memimage page that stays zero: untouched anonymous pages are read through it. */
    private readonly zeroPhys: number,
    /** Physical address of the root table. */
    readonly root: number = mem.allocZeroed(),
  ) {}

  /** The master PDE MADV_SETMAP takes. */
  masterPde(): number {
    return (((this.root >>> 12) << 10) | PTE_V) >>> 0;
  }

  /** Enter `va` → `phys` with leaf flags `flags`. */
  enter(va: number, phys: number, flags: number): void {
    const at = this.root + (va >>> 22) * 4;
    let pde = this.mem.readWord(at);
    if ((pde & PTE_V) === 0) {
      const table = this.mem.allocZeroed();
      pde = ((table >>> 12) << 10) | PTE_V;
      this.mem.writeWord(at, pde);
    }
    const table = (pde >>> 10) * PAGE_BYTES;
    this.mem.writeWord(table + ((va >>> 12) & 0x3ff) * 4, (((phys >>> 12) << 10) | flags | PTE_V) >>> 0);
  }

  private addInval(va: number): void {
    const r = this.invalRange;
    this.invalRange =
      r === null ? [va, va + PAGE_BYTES] : [Math.min(r[0], va), Math.max(r[1], va + PAGE_BYTES)];
  }

  /** The leaf PTE of `va`, or 0. */
  lookup(va: number): number {
    const pde = this.mem.readWord(this.root + (va >>> 22) * 4);
    if ((pde & PTE_V) === 0) return 0;
    const pte = this.mem.readWord((pde >>> 10) * PAGE_BYTES + ((va >>> 12) & 0x3ff) * 4);
    return (pte & PTE_V) !== 0 && (pte & LEAF) !== 0 ? pte : 0;
  }

  /** Drop every mapping and free the level-0 tables (the root stays). */
  clear(): void {
    for (let i = 0; i < 1024; i++) {
      const at = this.root + i * 4;
      const pde = this.mem.readWord(at);
      if ((pde & PTE_V) === 0) continue;
      this.mem.alloc.free((pde >>> 10) * PAGE_BYTES);
      this.mem.writeWord(at, 0);
    }
  }

  /** Free every table page (the process is gone). */
  destroy(): void {
    this.clear();
    this.mem.alloc.free(this.root);
  }

  /**
   * Bring the tables up to date with `vm`: when its generation moved, clear and refill them from
   * the resident pages and ask for an MADV_INVAL. True if the tables changed.
   */
  sync(vm: VmSpace): boolean {
    if (this.filledFrom === vm && this.gen === vm.generation) return false;
    this.clear();
    for (const e of vm.entries) {
      if (e.start < GUEST_WINDOW_START || e.end > GUEST_WINDOW_END) continue;
      const first = e.offset / PAGE_BYTES;
      const last = first + (e.end - e.start) / PAGE_BYTES;
      for (const [index] of e.object.pages) {
        if (index < first || index >= last) continue;
        const phys = e.object.phys.get(index);
        if (phys === undefined) continue;
        this.enter(e.start + (index - first) * PAGE_BYTES, phys, leafFlags(e, index));
      }
    }
    this.filledFrom = vm;
    this.gen = vm.generation;
    this.needInval = true;
    this.invalRange = null;
    return true;
  }

  /**
   * A guest fault at `addr` (MAPERR/ACCERR from the host walk): make the page resident and enter
   * it when the inner VmSpace allows any access there, break copy-on-write when the entry is
   * writable and the PTE is not, else say which signal the inner kernel must post (the host's
   * own codes: MAPERR outside every entry, ACCERR inside one, BUS_ADRERR past a file's end).
   */
  fault(vm: VmSpace, addr: number): PmapFaultResult {
    const va = (addr >>> 0) - ((addr >>> 0) % PAGE_BYTES);
    const e = vm.lookup(va);
    if (e === undefined || va < GUEST_WINDOW_START || va >= GUEST_WINDOW_END)
      return { kind: "signal", signo: signals.SIGSEGV, code: signals.SEGV_MAPERR };
    const accerr: PmapFaultResult = { kind: "signal", signo: signals.SIGSEGV, code: signals.SEGV_ACCERR };
    if ((e.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return accerr;
    const index = (e.offset + (va - e.start)) / PAGE_BYTES;
    if (e.object.kind === "file" && index >= e.object.sizePages)
      return { kind: "signal", signo: signals.SIGBUS, code: signals.BUS_ADRERR };
    const pte = this.lookup(va);
    const obj = e.object;
    if (pte === 0) {
      if (!obj.pages.has(index) && obj.source === null) {
        // Untouched anonymous page: read it through the zero page, as the host lends ZERO_PAGE.
        this.enter(va, this.zeroPhys, leafFlags(e, index) & ~PTE_W);
        return { kind: "resolved" };
      }
      obj.pageForRead(index);
    } else if ((e.prot & PROT_WRITE) !== 0 && (pte & PTE_W) === 0) {
      obj.pageForWrite(index); // materializes a zero-page read, or breaks copy-on-write
      this.addInval(va);
    } else {
      return accerr;
    }
    const phys = obj.phys.get(index);
    if (phys === undefined) return accerr;
    this.enter(va, phys, leafFlags(e, index));
    // A COW break moved the page: the generation moved too, `sync` refills and invalidates.
    if (this.gen !== vm.generation) this.sync(vm);
    return { kind: "resolved" };
  }
}

/** Leaf flags for page `index` of entry `e`: its prot, U, A/D preset; W only while not shared COW. */
export function leafFlags(e: VmMapEntry, index: number): number {
  let f = PTE_V | PTE_U | PTE_A | PTE_D;
  if ((e.prot & (PROT_READ | PROT_WRITE)) !== 0) f |= PTE_R;
  if ((e.prot & PROT_WRITE) !== 0 && !e.object.cow.has(index)) f |= PTE_W;
  if ((e.prot & PROT_EXEC) !== 0) f |= PTE_X;
  return f;
}
