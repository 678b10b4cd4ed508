import { Access, type Fault, type MemoryTranslator, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE } from "./cpu-types.ts";
import {
  type DecodedPage,
  decodedPageFor,
  decodeEpoch,
  existingDecodedPage,
  NO_DECODE,
} from "./decode-cache.ts";

export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

const NO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * A software TLB: three direct-mapped arrays (read, write, execute), indexed by the low bits of
 * the virtual page number and tagged with the whole of it (-1 = empty). A miss asks the
 * `MemoryTranslator`. Every array holds one type only (no nulls), so the interpreter's accesses
 * stay monomorphic.
 *
 * The write side also remembers each page's decode record (or `NO_DECODE`), so a store can
 * invalidate the instruction it overwrites without a map lookup.
 */
export class SoftTlb {
  readonly rTag = new Int32Array(TLB_SIZE).fill(-1);
  readonly rPage: Uint8Array[] = new Array<Uint8Array>(TLB_SIZE).fill(NO_PAGE);
  readonly wTag = new Int32Array(TLB_SIZE).fill(-1);
  readonly wPage: Uint8Array[] = new Array<Uint8Array>(TLB_SIZE).fill(NO_PAGE);
  readonly wDec: DecodedPage[] = new Array<DecodedPage>(TLB_SIZE).fill(NO_DECODE);
  readonly xTag = new Int32Array(TLB_SIZE).fill(-1);
  readonly xDec: DecodedPage[] = new Array<DecodedPage>(TLB_SIZE).fill(NO_DECODE);

  /** The fault of the last failed lookup, and the address it was for. */
  fault: Fault | 0 = 0;
  faultAddr = 0;
  /** The decode record of the page returned by the last `writePage`. */
  lastDec: DecodedPage = NO_DECODE;
  /** Set by `store` when it overwrote a decoded instruction (a translated region must return). */
  storeHitCode = false;
  /**
   * How the last translated region ended (jit.ts): the instructions it `retired`, and
   * `exitKind` (EXIT_NONE, EXIT_FAULT, or EXIT_MISALIGNED with the target in `exitAddr`).
   */
  retired = 0;
  exitKind = 0;
  exitAddr = 0;

  private generation: number;
  private epoch: number;

  constructor(public mem: MemoryTranslator) {
    this.generation = mem.generation;
    this.epoch = decodeEpoch();
  }

  /** Switch address space: everything cached belongs to the old one. */
  setMemory(mem: MemoryTranslator): void {
    this.mem = mem;
    this.flush();
  }

  flush(): void {
    this.rTag.fill(-1);
    this.wTag.fill(-1);
    this.xTag.fill(-1);
    this.rPage.fill(NO_PAGE);
    this.wPage.fill(NO_PAGE);
    this.wDec.fill(NO_DECODE);
    this.xDec.fill(NO_DECODE);
    this.generation = this.mem.generation;
    this.epoch = decodeEpoch();
  }

  /** Drop execute translations and the write side's decode records (after FENCE.I). */
  flushCode(): void {
    this.xTag.fill(-1);
    this.xDec.fill(NO_DECODE);
    for (let i = 0; i < TLB_SIZE; i++) {
      if (this.wTag[i] !== -1) this.wDec[i] = existingDecodedPage(this.wPage[i]!);
    }
    this.epoch = decodeEpoch();
  }

  /** Called at the start of every run: catch up with the address space and the decode cache. */
  sync(): void {
    if (this.mem.generation !== this.generation) this.flush();
    else if (decodeEpoch() !== this.epoch) this.flushCode();
  }

  /** The page holding `addr` for reading, or null with `fault`/`faultAddr` set. */
  readPage(addr: number): Uint8Array | null {
    const vpn = addr >>> PAGE_SHIFT;
    const i = vpn & TLB_MASK;
    if (this.rTag[i] === vpn) return this.rPage[i]!;
    const p = this.translate(addr, Access.Read);
    if (p === null) return null;
    this.rTag[i] = vpn;
    this.rPage[i] = p;
    return p;
  }

  /** The page holding `addr` for writing (sets `lastDec`), or null with `fault` set. */
  writePage(addr: number): Uint8Array | null {
    const vpn = addr >>> PAGE_SHIFT;
    const i = vpn & TLB_MASK;
    if (this.wTag[i] === vpn) {
      this.lastDec = this.wDec[i]!;
      return this.wPage[i]!;
    }
    const p = this.translate(addr, Access.Write);
    if (p === null) return null;
    const d = existingDecodedPage(p);
    this.wTag[i] = vpn;
    this.wPage[i] = p;
    this.wDec[i] = d;
    this.lastDec = d;
    return p;
  }

  /** The decode record of the page holding `addr` for execution, or null with `fault` set. */
  execPage(addr: number): DecodedPage | null {
    const vpn = addr >>> PAGE_SHIFT;
    const i = vpn & TLB_MASK;
    if (this.xTag[i] === vpn) return this.xDec[i]!;
    const p = this.translate(addr, Access.Execute);
    if (p === null) return null;
    const d = decodedPageFor(p);
    // The page may already sit in the write TLB, recorded as "not decoded": fix that entry so
    // that stores into this page invalidate what we are about to decode.
    for (let k = 0; k < TLB_SIZE; k++) {
      if (this.wPage[k] === p) this.wDec[k] = d;
    }
    this.epoch = decodeEpoch();
    this.xTag[i] = vpn;
    this.xDec[i] = d;
    return d;
  }

  private translate(addr: number, access: Access): Uint8Array | null {
    const r = this.mem.translate(addr >>> 0, access);
    if (typeof r === "number") {
      this.fault = r;
      this.faultAddr = addr >>> 0;
      return null;
    }
    // The translation may have changed the address space (copy-on-write broken, a page made
    // present): if the kernel says cached translations may be stale, drop them all first.
    if (this.mem.generation !== this.generation) this.flush();
    return r;
  }

  /**
   * Slow path of loads: a TLB miss, or a misaligned access (split into bytes, possibly over two
   * pages, each translated). Returns the unsigned value, or -1 with `fault` set.
   */
  load(addr: number, size: number): number {
    let v = 0;
    for (let k = 0; k < size; k++) {
      const a = (addr + k) | 0;
      const p = this.readPage(a);
      if (p === null) return -1;
      v |= p[a & PAGE_MASK]! << (8 * k);
    }
    return v >>> 0;
  }

  /**
   * Slow path of stores. Every page the store touches is translated before any byte is written,
   * so a store that faults on its second page leaves memory unchanged. Returns false on a fault.
   */
  store(addr: number, size: number, value: number): boolean {
    const first = this.writePage(addr);
    if (first === null) return false;
    const firstDec = this.lastDec;
    const end = (addr + size - 1) | 0;
    let second = first;
    let secondDec = firstDec;
    if ((end ^ addr) >>> PAGE_SHIFT !== 0) {
      const p = this.writePage(end & ~PAGE_MASK);
      if (p === null) return false;
      second = p;
      secondDec = this.lastDec;
    }
    let hit = false;
    for (let k = 0; k < size; k++) {
      const a = (addr + k) | 0;
      const onFirst = (a ^ addr) >>> PAGE_SHIFT === 0;
      const o = a & PAGE_MASK;
      (onFirst ? first : second)[o] = value >>> (8 * k);
      const d = onFirst ? firstDec : secondDec;
      if (d !== NO_DECODE) {
        d.invalidate(o >>> 2);
        hit = true;
      }
    }
    this.storeHitCode = hit;
    const res = this.mem.reservations;
    if (res.count > 0) res.breakOverlapping(addr >>> 0, size);
    return true;
  }
}
