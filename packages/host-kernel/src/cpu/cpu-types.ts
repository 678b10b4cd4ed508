/**
 * The contract between the machine (`src/cpu`, `src/exec`) and the kernel core (everything else).
 *
 * A `Hart` (src/cpu/hart.ts) executes RV32IMA user code of one LWP. It reaches memory only
 * through a `MemoryTranslator`, which the kernel's vmspace implements: on a software-TLB miss the
 * hart asks for the 4 KiB page that backs a virtual address for one kind of access and caches it.
 * The kernel decides everything else (permissions, demand-zero, copy-on-write, dirty bits,
 * VPAGETABLE walks) inside `translate`.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;

/** The kind of access a translation is for. */
export const enum Access {
  Read = 0,
  Write = 1,
  Execute = 2,
}

/**
 * Why a translation failed. Values are negative so that `translate` can return either a page
 * or a fault without allocating. They map to the signal the kernel posts:
 * MapError → SIGSEGV/SEGV_MAPERR, AccessError → SIGSEGV/SEGV_ACCERR, BusError → SIGBUS/BUS_ADRERR.
 */
export const enum Fault {
  MapError = -1,
  AccessError = -2,
  BusError = -3,
}

export interface MemoryTranslator {
  /**
   * The bytes of the page holding `vaddr` (an unsigned 32-bit address), valid for `access`, or a
   * `Fault`. For `Access.Write` the implementation breaks copy-on-write and marks the page dirty
   * before returning it, so the hart may then store into the array directly until the next TLB
   * flush. The returned array is exactly PAGE_SIZE bytes and stays the page's storage.
   */
  translate(vaddr: number, access: Access): Uint8Array | Fault;
  /**
   * Bumped whenever a cached translation may have become stale (munmap, mprotect, COW setup,
   * dirty bits cleared by a checkpoint, a vmspace switch). A hart compares it at the start of each
   * `run` and after each memory-management trap and flushes its TLB when it changed.
   */
  readonly generation: number;
  /**
   * LR/SC: reservations live in the address space so that a store from any hart breaks another
   * hart's reservation on the same word. `reservationCount` is 0 most of the time, so stores test
   * it before calling `breakReservations`.
   */
  readonly reservations: ReservationSet;
}

/** Reservation set of one address space (one entry per hart that holds a reservation). */
export class ReservationSet {
  /** Number of live reservations; hot paths test this before anything else. */
  count = 0;
  private readonly byHart = new Map<object, number>();

  reserve(hart: object, addr: number): void {
    if (!this.byHart.has(hart)) this.count++;
    this.byHart.set(hart, addr >>> 0);
  }

  /** True and the reservation is consumed if `hart` still holds one on `addr`. */
  consume(hart: object, addr: number): boolean {
    const held = this.byHart.get(hart);
    if (held === undefined) return false;
    this.byHart.delete(hart);
    this.count--;
    return held === addr >>> 0;
  }

  /** A store of `size` bytes at `addr` breaks every reservation on the words it touches. */
  breakOverlapping(addr: number, size: number): void {
    const lo = (addr >>> 0) & ~3;
    const hi = ((addr >>> 0) + size - 1) & ~3;
    for (const [hart, held] of this.byHart) {
      if (held >= lo && held <= hi) {
        this.byHart.delete(hart);
        this.count--;
      }
    }
  }

  clear(hart: object): void {
    if (this.byHart.delete(hart)) this.count--;
  }

  /**
   * Move `from`'s reservation (if any) to `to`, replacing `to`'s: a vmspace_ctl guest context
   * parks its reservation under a key of its own between runs (stores still break it).
   */
  move(from: object, to: object): void {
    const held = this.byHart.get(from);
    this.clear(to);
    if (held === undefined) return;
    this.byHart.delete(from);
    this.byHart.set(to, held);
  }

  clearAll(): void {
    this.byHart.clear();
    this.count = 0;
  }
}

/** Why `Hart.run` returned. The hart's `pc` points at the instruction concerned. */
export const enum Stop {
  /** The instruction budget ran out; `pc` is the next instruction to execute. */
  Budget = 0,
  /** ECALL: syscall number in a7 (x17), args a0..a5; `pc` is the ecall itself (the kernel adds 4). */
  Ecall = 1,
  /** EBREAK: `pc` is the ebreak. The kernel posts SIGTRAP. */
  Ebreak = 2,
  /** Illegal or unsupported instruction; `trapValue` holds its bits. SIGILL/ILL_ILLOPC. */
  Illegal = 3,
  /** A memory fault; `trapValue` is the faulting address, `fault` the kind. SIGSEGV or SIGBUS. */
  MemoryFault = 4,
  /**
   * A misaligned AMO/LR/SC; `trapValue` is the address. SIGBUS/BUS_ADRALN. Also a jump or taken
   * branch to an address that is not 4-byte aligned (no C extension): `pc` is the jump, not
   * retired, and `trapValue` the target.
   */
  Misaligned = 5,
  /**
   * WFI or a hint the kernel asked to see (e.g. `pause`, see `Hart.yieldOnPause`): treated as a
   * yield. Unlike the traps, the instruction has retired: `pc` is the next instruction.
   */
  Yield = 6,
}

/** The saved register file of one hart (what a checkpoint stores for an LWP). */
export interface HartContext {
  /** x0..x31 as unsigned 32-bit integers; x[0] is always 0; x[4] is tp (the TLS pointer). */
  x: number[];
  pc: number;
}
