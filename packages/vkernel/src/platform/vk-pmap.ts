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
  /** MADV_INVAL ranges [lo, hi) due before the next run (cleared entries, a zero page replaced). */
  readonly invalRanges: [number, number][] = [];
  /** The entries the tables were last filled from. */
  private snapshot: EntrySnap[] = [];

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
    this.invalRanges.push([va, va + PAGE_BYTES]);
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
   * Bring the tables up to date with `vm` (true if they changed). A new VmSpace (exec, or the
   * first run) is filled whole and the whole window invalidated. Otherwise only what moved since
   * the last fill is redone: an entry that is gone or changed (range, prot, object, offset, or its
   * object's generation: a COW break, freed pages) has its PTEs cleared and its range queued for
   * MADV_INVAL; a new or changed entry gets its resident pages entered (no invalidation needed).
   */
  sync(vm: VmSpace): boolean {
    if (this.filledFrom === vm && this.gen === vm.generation) return false;
    const now = vm.entries
      .filter((e) => e.start >= GUEST_WINDOW_START && e.end <= GUEST_WINDOW_END)
      .map(snap);
    if (this.filledFrom !== vm) {
      this.clear();
      for (const e of vm.entries)
        if (e.start >= GUEST_WINDOW_START && e.end <= GUEST_WINDOW_END) this.fill(e);
      this.filledFrom = vm;
      this.needInval = true;
      this.invalRanges.length = 0;
    } else {
      const same = (a: EntrySnap, b: EntrySnap): boolean =>
        a.start === b.start &&
        a.end === b.end &&
        a.prot === b.prot &&
        a.entry.object === b.entry.object &&
        a.offset === b.offset &&
        a.objGen === b.objGen;
      const kept = new Set<EntrySnap>();
      for (const o of this.snapshot) {
        const n = now.find((x) => same(o, x));
        if (n !== undefined) kept.add(n);
        else {
          this.clearRange(o.start, o.end);
          this.invalRanges.push([o.start, o.end]);
        }
      }
      for (const n of now) if (!kept.has(n)) this.fill(n.entry);
    }
    this.snapshot = now;
    this.gen = vm.generation;
    return true;
  }

  /** Enter every resident page of entry `e`. */
  private fill(e: VmMapEntry): void {
    const first = e.offset / PAGE_BYTES;
    const last = first + (e.end - e.start) / PAGE_BYTES;
    for (const [index, phys] of e.object.phys) {
      if (index < first || index >= last) continue;
      this.enter(e.start + (index - first) * PAGE_BYTES, phys, leafFlags(e, index));
    }
  }

  /** Clear the PTEs of [start, end) (level-0 tables stay). */
  private clearRange(start: number, end: number): void {
    for (let va = start; va < end; ) {
      const chunkEnd = Math.min(end, (Math.floor(va / 0x40_0000) + 1) * 0x40_0000);
      const pde = this.mem.readWord(this.root + (va >>> 22) * 4);
      if ((pde & PTE_V) !== 0) {
        const table = this.mem.pageForWrite((pde >>> 10) * PAGE_BYTES);
        table.fill(0, ((va >>> 12) & 0x3ff) * 4, (((chunkEnd - 1) >>> 12) & 0x3ff) * 4 + 4);
      }
      va = chunkEnd;
    }
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
    const wasCurrent = this.filledFrom === vm && this.gen === vm.generation;
    if (pte === 0) {
      if (!obj.pages.has(index) && obj.source === null && (e.prot & PROT_WRITE) === 0) {
        // Untouched anonymous page of a read-only mapping: read it through the zero page, as the
        // host lends ZERO_PAGE. (A writable one is materialized now: most are written next, and a
        // zero-page read first would cost a second fault and an MADV_INVAL.)
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
    // A COW break moved this one page (its object's generation moved): entered above and queued
    // for MADV_INVAL, so the tables are current again unless something else had changed.
    if (wasCurrent && this.gen !== vm.generation) {
      for (const sn of this.snapshot) if (sn.entry.object === obj) sn.objGen = obj.generation;
      this.gen = vm.generation;
    }
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

/** What `sync` remembers of an entry to see whether it changed. */
interface EntrySnap {
  start: number;
  end: number;
  prot: number;
  offset: number;
  objGen: number;
  entry: VmMapEntry;
}

const snap = (e: VmMapEntry): EntrySnap => ({
  start: e.start,
  end: e.end,
  prot: e.prot,
  offset: e.offset,
  objGen: e.object.generation,
  entry: e,
});
