import {
  Access,
  Fault,
  type MemoryTranslator,
  PAGE_MASK,
  PAGE_SHIFT,
  PAGE_SIZE,
  ReservationSet,
} from "../cpu/cpu-types.ts";
import { EFAULT, EINVAL, ENOMEM } from "../syscall/errno.ts";
import { nextStamp, VmObject, type VmPageBackend } from "./vm-object.ts";
import {
  ENTRY_ANON,
  ENTRY_COW,
  ENTRY_SHARED,
  type MapEntryType,
  MMAP_BASE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  USER_END,
  USER_MIN,
} from "./vm-types.ts";

/**
 * One map entry: [start, end) maps `object` from byte `offset`. `type` "normal" maps object pages
 * directly; "vpagetable" (DragonFly MAP_VPAGETABLE) will translate through Sv32 tables kept in the
 * object, rooted at `masterPde` — the hook is `VmSpace.translateVpagetable`.
 */
export interface VmMapEntry {
  start: number;
  end: number;
  prot: number;
  maxprot: number;
  /** ENTRY_* bits. */
  flags: number;
  object: VmObject;
  /** Byte offset into the object of `start` (page aligned). */
  offset: number;
  type: MapEntryType;
  /** VPAGETABLE only: physical address (in the object) of the Sv32 root table. */
  masterPde: number;
}

/** Allocates VM object ids; shared by all vmspaces of a kernel so ids are unique. */
export class VmObjectIds {
  next = 1;
  /**
   * The page backend of every object made through this factory (null: plain arrays). A kernel
   * whose pages live in another kernel's memory (the vkernel's inner kernel) sets it.
   */
  backend: VmPageBackend | null = null;
  take(): number {
    const id = this.next;
    this.next += 1;
    return id;
  }
}

const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Sv32 PTE bits. */
export const PTE_V = 0x01;
export const PTE_R = 0x02;
export const PTE_W = 0x04;
export const PTE_X = 0x08;
export const PTE_U = 0x10;
export const PTE_A = 0x40;
export const PTE_D = 0x80;

export interface MapRequest {
  addr: number;
  len: number;
  prot: number;
  /** ENTRY_* bits. */
  flags: number;
  /** true: replace whatever is there (MAP_FIXED); false: `addr` is a hint. */
  fixed: boolean;
  /** Object to map (a new anonymous one when absent) and byte offset into it. */
  object?: VmObject;
  offset?: number;
  maxprot?: number;
  /** "vpagetable": translate through Sv32 tables in the object (see `translateVpagetable`). */
  type?: MapEntryType;
  /** For "vpagetable": the master PDE (also settable later with `setMasterPde`). */
  masterPde?: number;
}

/**
 * An address space: sorted, non-overlapping map entries over VM objects. Implements the hart's
 * MemoryTranslator (permissions, demand-zero, COW break, dirty marking) and the kernel's
 * copyin/copyout.
 */
export class VmSpace implements MemoryTranslator {
  readonly entries: VmMapEntry[] = [];
  readonly reservations = new ReservationSet();
  /** Program break: [brkBase, brkEnd) is the heap entry (brkEnd page aligned inside). */
  brkBase = 0;
  brk = 0;
  private stamp = nextStamp();
  private lastEntry: VmMapEntry | null = null;

  constructor(readonly ids: VmObjectIds) {}

  get generation(): number {
    let g = this.stamp;
    for (const entry of this.entries) if (entry.object.generation > g) g = entry.object.generation;
    return g;
  }

  /** Mark cached translations stale. */
  invalidate(): void {
    this.stamp = nextStamp();
    this.lastEntry = null;
  }

  newAnonObject(sizePages: number): VmObject {
    const object = new VmObject(this.ids.take(), "anon", sizePages);
    object.backend = this.ids.backend;
    return object;
  }

  /** The entry containing `addr`, or undefined. */
  lookup(addr: number): VmMapEntry | undefined {
    const last = this.lastEntry;
    if (last !== null && addr >= last.start && addr < last.end) return last;
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.entries[mid] as VmMapEntry;
      if (addr < e.start) hi = mid - 1;
      else if (addr >= e.end) lo = mid + 1;
      else {
        this.lastEntry = e;
        return e;
      }
    }
    return undefined;
  }

  translate(vaddr: number, access: Access): Uint8Array | Fault {
    const addr = vaddr >>> 0;
    const entry = this.lookup(addr);
    if (entry === undefined) return Fault.MapError;
    const need = access === Access.Write ? PROT_WRITE : access === Access.Execute ? PROT_EXEC : PROT_READ;
    if ((entry.prot & need) === 0) return Fault.AccessError;
    if (entry.type === "vpagetable") return this.translateVpagetable(entry, addr, access);
    const index = (entry.offset + (addr - entry.start)) >>> PAGE_SHIFT;
    if (index >= entry.object.sizePages && entry.object.kind === "file") return Fault.BusError;
    return access === Access.Write ? entry.object.pageForWrite(index) : entry.object.pageForRead(index);
  }

  /**
   * VPAGETABLE translation (DragonFly MAP_VPAGETABLE + MADV_SETMAP, in RISC-V Sv32 format): the
   * page tables live *inside* `entry.object`; a "physical" address is a byte offset into it.
   * `entry.masterPde` is an Sv32 PTE (V set, not a leaf) whose PPN is the root table. The walk
   * uses the absolute virtual address: VPN[1] = va[31:22], VPN[0] = va[21:12]; leaves at level 1
   * are 4 MiB superpages. Permissions come from the leaf (R/W/X, U must be set) and from the
   * entry. Like hardware with Svadu, the walk sets A (and D on a write) in the leaf. Cached
   * translations are not invalidated when the tables change: the owner calls `invalidate()`
   * (DragonFly's MADV_INVAL).
   */
  translateVpagetable(entry: VmMapEntry, addr: number, access: Access): Uint8Array | Fault {
    const obj = entry.object;
    const master = entry.masterPde >>> 0;
    if ((master & PTE_V) === 0 || (master & (PTE_R | PTE_W | PTE_X)) !== 0) return Fault.MapError;
    const vpn1 = addr >>> 22;
    const vpn0 = (addr >>> 12) & 0x3ff;
    let pteAddr = (master >>> 10) * PAGE_SIZE + vpn1 * 4;
    let pte = this.objectWord(obj, pteAddr);
    if (pte === null || (pte & PTE_V) === 0) return Fault.MapError;
    let ppn: number;
    if ((pte & (PTE_R | PTE_W | PTE_X)) !== 0) {
      if (((pte >>> 10) & 0x3ff) !== 0) return Fault.MapError; // misaligned superpage
      ppn = ((pte >>> 20) << 10) | vpn0;
    } else {
      pteAddr = (pte >>> 10) * PAGE_SIZE + vpn0 * 4;
      pte = this.objectWord(obj, pteAddr);
      if (pte === null || (pte & PTE_V) === 0 || (pte & (PTE_R | PTE_W | PTE_X)) === 0) return Fault.MapError;
      ppn = pte >>> 10;
    }
    if ((pte & PTE_W) !== 0 && (pte & PTE_R) === 0) return Fault.MapError; // reserved encoding
    const need = access === Access.Write ? PTE_W : access === Access.Execute ? PTE_X : PTE_R;
    if ((pte & PTE_U) === 0 || (pte & need) === 0) return Fault.AccessError;
    const ad = PTE_A | (access === Access.Write ? PTE_D : 0);
    if ((pte & ad) !== ad) this.setObjectWord(obj, pteAddr, (pte | ad) >>> 0);
    if (ppn >= obj.sizePages) return Fault.BusError;
    return access === Access.Write ? obj.pageForWrite(ppn) : obj.pageForRead(ppn);
  }

  /** A little-endian word of an object at byte offset `at`, or null past its end. */
  private objectWord(obj: VmObject, at: number): number | null {
    const index = Math.floor(at / PAGE_SIZE);
    if (index >= obj.sizePages) return null;
    const page = obj.pageForRead(index);
    const o = at & PAGE_MASK;
    return (
      ((page[o] as number) |
        ((page[o + 1] as number) << 8) |
        ((page[o + 2] as number) << 16) |
        ((page[o + 3] as number) << 24)) >>>
      0
    );
  }

  private setObjectWord(obj: VmObject, at: number, value: number): void {
    const page = obj.pageForWrite(Math.floor(at / PAGE_SIZE));
    const o = at & PAGE_MASK;
    page[o] = value & 0xff;
    page[o + 1] = (value >>> 8) & 0xff;
    page[o + 2] = (value >>> 16) & 0xff;
    page[o + 3] = value >>> 24;
  }

  /** MADV_SETMAP: set the master PDE of the VPAGETABLE entry containing `addr`. 0 or -EINVAL. */
  setMasterPde(addr: number, pde: number): number {
    const e = this.lookup(addr >>> 0);
    if (e === undefined || e.type !== "vpagetable") return -EINVAL;
    e.masterPde = pde >>> 0;
    this.invalidate();
    return 0;
  }

  // ---- mapping -------------------------------------------------------------------------------

  /** True when [start, end) overlaps no entry. */
  isFree(start: number, end: number): boolean {
    for (const e of this.entries) if (e.start < end && e.end > start) return false;
    return true;
  }

  /**
   * Top-down search for a free, page-aligned range of `len` bytes below MMAP_BASE (and at or
   * above USER_MIN). Returns the start address or -ENOMEM.
   */
  findSpace(len: number): number {
    let top = MMAP_BASE;
    for (let i = this.entries.length - 1; i >= -1; i--) {
      const e = this.entries[i];
      const bottom = e === undefined ? USER_MIN : e.end;
      if (e !== undefined && e.start >= top) continue;
      if (top - bottom >= len && top - len >= USER_MIN) return top - len;
      if (e !== undefined) top = Math.min(top, e.start);
    }
    return -ENOMEM;
  }

  /** Map a range; returns the start address or -errno. `len` is rounded up to pages. */
  map(req: MapRequest): number {
    const len = pageUp(req.len);
    if (len === 0 || (req.addr & PAGE_MASK) !== 0) return -EINVAL;
    let start = req.addr >>> 0;
    if (req.fixed) {
      if (start < USER_MIN || start + len > USER_END) return -ENOMEM;
      this.unmap(start, len);
    } else if (
      start === 0 ||
      start < USER_MIN ||
      start + len > USER_END ||
      !this.isFree(start, start + len)
    ) {
      start = this.findSpace(len);
      if (start < 0) return start;
    }
    const object = req.object ?? this.newAnonObject(len >>> PAGE_SHIFT);
    // Objects made outside the factory (file mappings) take its backend while still empty.
    if (object.backend === null && this.ids.backend !== null && object.refs === 0 && object.pages.size === 0)
      object.backend = this.ids.backend;
    object.refs += 1;
    this.insert({
      start,
      end: start + len,
      prot: req.prot,
      maxprot: req.maxprot ?? PROT_READ | PROT_WRITE | PROT_EXEC,
      flags: req.flags | (req.object === undefined ? ENTRY_ANON : 0),
      object,
      offset: req.offset ?? 0,
      type: req.type ?? "normal",
      masterPde: req.masterPde ?? 0,
    });
    return start;
  }

  /** Map a fixed range anywhere in the 32-bit space (kernel use: the sigcode page). */
  mapKernelFixed(start: number, len: number, prot: number, object: VmObject): void {
    this.unmap(start, len, true);
    object.refs += 1;
    this.insert({
      start,
      end: start + len,
      prot,
      maxprot: prot,
      flags: ENTRY_SHARED,
      object,
      offset: 0,
      type: "normal",
      masterPde: 0,
    });
  }

  private insert(entry: VmMapEntry): void {
    let i = 0;
    while (i < this.entries.length && (this.entries[i] as VmMapEntry).start < entry.start) i++;
    this.entries.splice(i, 0, entry);
    this.invalidate();
  }

  /**
   * Remove [addr, addr+len) from the map, splitting entries at the edges. 0 or -EINVAL.
   * Unmapping a range with nothing mapped is not an error (Linux).
   */
  unmap(addr: number, len: number, kernel = false): number {
    if ((addr & PAGE_MASK) !== 0 || len <= 0) return -EINVAL;
    const start = addr >>> 0;
    const end = start + pageUp(len);
    if (!kernel && end > USER_END) return -EINVAL;
    this.splitAt(start);
    this.splitAt(end);
    const kept: VmMapEntry[] = [];
    for (const e of this.entries) {
      if (e.start >= start && e.end <= end) this.release(e);
      else kept.push(e);
    }
    this.entries.length = 0;
    this.entries.push(...kept);
    this.invalidate();
    return 0;
  }

  private release(e: VmMapEntry): void {
    e.object.refs -= 1;
    // Private anonymous memory nobody else maps: free its pages now.
    if (e.object.refs === 0) {
      e.object.freePages(e.offset >>> PAGE_SHIFT, (e.offset + e.end - e.start) >>> PAGE_SHIFT);
    }
  }

  /** Split the entry containing `addr` so that an entry boundary falls on `addr`. */
  private splitAt(addr: number): void {
    const i = this.entries.findIndex((e) => e.start < addr && e.end > addr);
    if (i < 0) return;
    const e = this.entries[i] as VmMapEntry;
    const tail: VmMapEntry = { ...e, start: addr, offset: e.offset + (addr - e.start) };
    e.end = addr;
    e.object.refs += 1;
    this.entries.splice(i + 1, 0, tail);
    this.lastEntry = null;
  }

  /** mprotect(2): 0, -ENOMEM (a hole in the range), -EINVAL, or -EACCES (above maxprot). */
  protect(addr: number, len: number, prot: number): number {
    if ((addr & PAGE_MASK) !== 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -EINVAL;
    const start = addr >>> 0;
    const end = start + pageUp(len);
    if (end === start) return 0;
    // The whole range must be mapped.
    let cursor = start;
    for (const e of this.entries) {
      if (e.end <= cursor || e.start >= end) continue;
      if (e.start > cursor) return -ENOMEM;
      if ((prot & ~e.maxprot) !== 0) return -13; // EACCES
      cursor = e.end;
      if (cursor >= end) break;
    }
    if (cursor < end) return -ENOMEM;
    this.splitAt(start);
    this.splitAt(end);
    for (const e of this.entries) if (e.start >= start && e.end <= end) e.prot = prot;
    this.mergeAdjacent();
    this.invalidate();
    return 0;
  }

  /** Merge neighbours that map consecutive bytes of the same object with the same attributes. */
  private mergeAdjacent(): void {
    for (let i = this.entries.length - 1; i > 0; i--) {
      const a = this.entries[i - 1] as VmMapEntry;
      const b = this.entries[i] as VmMapEntry;
      if (
        a.end === b.start &&
        a.object === b.object &&
        a.offset + (a.end - a.start) === b.offset &&
        a.prot === b.prot &&
        a.maxprot === b.maxprot &&
        a.flags === b.flags &&
        a.type === b.type &&
        a.masterPde === b.masterPde
      ) {
        a.end = b.end;
        a.object.refs -= 1;
        this.entries.splice(i, 1);
      }
    }
  }

  /**
   * brk(2) with Linux semantics: returns the new break, or the old one when the request is
   * below brkBase or cannot be satisfied (no error code). `0` queries.
   */
  setBrk(request: number): number {
    const want = request >>> 0;
    if (want < this.brkBase) return this.brk;
    const oldEnd = pageUp(this.brk);
    const newEnd = pageUp(want);
    if (newEnd > oldEnd) {
      if (newEnd > MMAP_BASE || !this.isFree(oldEnd, newEnd)) return this.brk;
      const heap = this.entries.find((e) => e.end === oldEnd && e.start === this.brkBase);
      if (heap !== undefined && heap.object.refs === 1) {
        heap.end = newEnd;
        heap.object.sizePages = Math.max(heap.object.sizePages, (heap.offset + newEnd - heap.start) >>> 12);
        this.invalidate();
      } else {
        this.map({
          addr: oldEnd,
          len: newEnd - oldEnd,
          prot: PROT_READ | PROT_WRITE,
          flags: ENTRY_ANON,
          fixed: true,
        });
        this.mergeAdjacent();
      }
    } else if (newEnd < oldEnd) {
      this.unmap(newEnd, oldEnd - newEnd);
    }
    this.brk = want;
    return want;
  }

  // ---- kernel access to user memory -----------------------------------------------------------

  /** Copy `len` bytes from user memory; -EFAULT if any byte is unmapped or unreadable. */
  copyin(addr: number, len: number): Uint8Array | number {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const va = (addr + done) >>> 0;
      if (addr + done > 0xffff_ffff) return -EFAULT;
      const page = this.translate(va, Access.Read);
      if (typeof page === "number") return -EFAULT;
      const off = va & PAGE_MASK;
      const n = Math.min(len - done, PAGE_SIZE - off);
      out.set(page.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** Copy bytes to user memory (breaking COW, marking dirty); 0 or -EFAULT. */
  copyout(addr: number, bytes: Uint8Array): number {
    // Check the whole range first so a failed copy writes nothing.
    for (let done = 0; done < bytes.length; ) {
      const va = (addr + done) >>> 0;
      if (addr + done > 0xffff_ffff) return -EFAULT;
      const e = this.lookup(va);
      if (e === undefined || (e.prot & PROT_WRITE) === 0) return -EFAULT;
      done += Math.min(bytes.length - done, e.end - va);
    }
    let done = 0;
    while (done < bytes.length) {
      const va = (addr + done) >>> 0;
      const page = this.translate(va, Access.Write);
      if (typeof page === "number") return -EFAULT;
      const off = va & PAGE_MASK;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      page.set(bytes.subarray(done, done + n), off);
      this.reservations.breakOverlapping(va, n);
      done += n;
    }
    return 0;
  }

  /** A NUL-terminated string of at most `max` bytes (without the NUL); -EFAULT or -ENAMETOOLONG. */
  copyinstr(addr: number, max: number): string | number {
    const bytes: number[] = [];
    for (let i = 0; i < max; i++) {
      const va = (addr + i) >>> 0;
      const page = this.translate(va, Access.Read);
      if (typeof page === "number") return -EFAULT;
      const b = page[va & PAGE_MASK] as number;
      if (b === 0) return new TextDecoder().decode(new Uint8Array(bytes));
      bytes.push(b);
    }
    return -36; // ENAMETOOLONG
  }

  /**
   * `len` bytes at `addr` to read at once: a view of the page itself when they lie in one page
   * (no copy; valid until that memory next changes), else a copy as `copyin` makes; -EFAULT.
   */
  peek(addr: number, len: number): Uint8Array | number {
    const at = addr & PAGE_MASK;
    if (at + len > PAGE_SIZE || addr < 0 || addr > 0xffff_ffff) return this.copyin(addr, len);
    const page = this.translate(addr, Access.Read);
    if (typeof page === "number") return -EFAULT;
    return page.subarray(at, at + len);
  }

  readU32(addr: number): number | null {
    if ((addr & 3) === 0) {
      // Aligned, so within one page: read it in place (kernels poll words on every pass).
      const page = this.translate(addr, Access.Read);
      if (typeof page === "number") return null;
      const at = addr & PAGE_MASK;
      return (page[at]! | (page[at + 1]! << 8) | (page[at + 2]! << 16) | (page[at + 3]! << 24)) >>> 0;
    }
    const b = this.copyin(addr, 4);
    if (typeof b === "number") return null;
    return (
      ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0
    );
  }

  writeU32(addr: number, value: number): number {
    if ((addr & 3) === 0) {
      // Aligned, so within one page: what copyout does for one page, without a buffer.
      const page = this.translate(addr, Access.Write);
      if (typeof page === "number") return -EFAULT;
      const at = addr & PAGE_MASK;
      page[at] = value;
      page[at + 1] = value >>> 8;
      page[at + 2] = value >>> 16;
      page[at + 3] = value >>> 24;
      this.reservations.breakOverlapping(addr, 4);
      return 0;
    }
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.copyout(addr, b);
  }

  /** Kernel write ignoring protections (loading segments, building the initial stack). */
  poke(addr: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const va = (addr + done) >>> 0;
      const e = this.lookup(va);
      if (e === undefined) throw new RangeError(`poke: 0x${va.toString(16)} is not mapped`);
      const index = (e.offset + (va - e.start)) >>> PAGE_SHIFT;
      const page = e.object.pageForWrite(index);
      const off = va & PAGE_MASK;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      page.set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Forget dirty bits of every object (after a checkpoint saved them). */
  clearDirty(): void {
    for (const e of this.entries) e.object.clearDirty();
    this.invalidate();
  }

  /**
   * fork(2)-style copy: shared entries share their object, private ones get a copy-on-write copy
   * of it (pages are shared until either side writes).
   */
  fork(): VmSpace {
    const child = new VmSpace(this.ids);
    child.brkBase = this.brkBase;
    child.brk = this.brk;
    const copies = new Map<VmObject, VmObject>();
    for (const e of this.entries) {
      let object = e.object;
      if ((e.flags & ENTRY_SHARED) === 0) {
        let twin = copies.get(object);
        if (twin === undefined) {
          twin = object.copy(this.ids.take());
          copies.set(object, twin);
        }
        object = twin;
      }
      object.refs += 1;
      child.entries.push({ ...e, object, flags: e.flags | ((e.flags & ENTRY_SHARED) === 0 ? ENTRY_COW : 0) });
    }
    this.invalidate();
    return child;
  }

  /** Drop every entry (exit, exec). */
  destroy(): void {
    for (const e of this.entries) this.release(e);
    this.entries.length = 0;
    this.invalidate();
  }
}
