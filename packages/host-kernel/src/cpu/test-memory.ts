import {
  Access,
  Fault,
  type MemoryTranslator,
  PAGE_MASK,
  PAGE_SHIFT,
  PAGE_SIZE,
  ReservationSet,
  type Stop,
} from "./cpu-types.ts";
import { Hart, hartDefaults } from "./hart.ts";

/** Test helpers (not a test file): a flat page-table memory and a program runner. */

/**
 * The machine's tests run on the interpreter, unless VKC_TEST_JIT is set when this module is
 * first evaluated: then on translated regions, translating at the VKC_TEST_JIT-th visit. Only
 * under vitest: a script that imports these helpers (bench/bench-interp-micro.ts) must not turn
 * translation off for every hart of the process (it did, and `pnpm bench interpreter` measured
 * the kernel's guest programs on the interpreter alone).
 */
if (process.env.VITEST !== undefined) {
  const testJit = process.env.VKC_TEST_JIT;
  hartDefaults.jit = testJit !== undefined;
  hartDefaults.jitThreshold = testJit !== undefined ? Number(testJit) : 16;
}

export const PROT_R = 1;
export const PROT_W = 2;
export const PROT_X = 4;
export const PROT_RW = PROT_R | PROT_W;
export const PROT_RX = PROT_R | PROT_X;
export const PROT_RWX = PROT_R | PROT_W | PROT_X;

interface TestPage {
  bytes: Uint8Array;
  prot: number;
}

/** A MemoryTranslator over a map of pages with permissions, that counts its translations. */
export class TestMemory implements MemoryTranslator {
  readonly pages = new Map<number, TestPage>();
  readonly reservations = new ReservationSet();
  generation = 0;
  translations = 0;

  translate(vaddr: number, access: Access): Uint8Array | Fault {
    this.translations++;
    const page = this.pages.get(vaddr >>> PAGE_SHIFT);
    if (page === undefined) return Fault.MapError;
    const need = access === Access.Read ? PROT_R : access === Access.Write ? PROT_W : PROT_X;
    if ((page.prot & need) === 0) return Fault.AccessError;
    return page.bytes;
  }

  /** Map fresh zeroed pages over [vaddr, vaddr + len). */
  map(vaddr: number, len: number, prot: number): void {
    const first = vaddr >>> PAGE_SHIFT;
    const last = (vaddr + len - 1) >>> PAGE_SHIFT;
    for (let vpn = first; vpn <= last; vpn++) this.pages.set(vpn, { bytes: new Uint8Array(PAGE_SIZE), prot });
    this.generation++;
  }

  unmap(vaddr: number, len: number): void {
    const first = vaddr >>> PAGE_SHIFT;
    const last = (vaddr + len - 1) >>> PAGE_SHIFT;
    for (let vpn = first; vpn <= last; vpn++) this.pages.delete(vpn);
    this.generation++;
  }

  protect(vaddr: number, len: number, prot: number): void {
    const first = vaddr >>> PAGE_SHIFT;
    const last = (vaddr + len - 1) >>> PAGE_SHIFT;
    for (let vpn = first; vpn <= last; vpn++) {
      const p = this.pages.get(vpn);
      if (p) p.prot = prot;
    }
    this.generation++;
  }

  private page(vaddr: number): Uint8Array {
    const p = this.pages.get(vaddr >>> PAGE_SHIFT);
    if (p === undefined) throw new Error(`test memory: 0x${(vaddr >>> 0).toString(16)} is not mapped`);
    return p.bytes;
  }

  writeBytes(vaddr: number, bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) {
      const a = (vaddr + i) >>> 0;
      this.page(a)[a & PAGE_MASK] = bytes[i]!;
    }
  }

  readBytes(vaddr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = (vaddr + i) >>> 0;
      out[i] = this.page(a)[a & PAGE_MASK]!;
    }
    return out;
  }

  writeU32(vaddr: number, value: number): void {
    this.writeBytes(vaddr, [value & 255, (value >>> 8) & 255, (value >>> 16) & 255, (value >>> 24) & 255]);
  }

  readU32(vaddr: number): number {
    const b = this.readBytes(vaddr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  writeWords(vaddr: number, words: readonly number[]): void {
    for (let i = 0; i < words.length; i++) this.writeU32(vaddr + 4 * i, words[i]!);
  }
}

export const CODE_BASE = 0x10000;
export const DATA_BASE = 0x20000;

export interface TestRun {
  hart: Hart;
  mem: TestMemory;
  stop: Stop;
}

/**
 * Map a code page (RX) with `program` at CODE_BASE and a data area (RW, 2 pages) at DATA_BASE,
 * set registers from `regs`, and run until a stop (EBREAK ends most test programs).
 */
export function runProgram(
  program: readonly (number | readonly number[])[],
  options: { regs?: Record<number, number>; budget?: number; mem?: TestMemory } = {},
): TestRun {
  const mem = options.mem ?? new TestMemory();
  const words = program.flat();
  if (options.mem === undefined) {
    mem.map(CODE_BASE, Math.max(words.length * 4, 4), PROT_RX);
    mem.map(DATA_BASE, 2 * PAGE_SIZE, PROT_RW);
  }
  mem.writeWords(CODE_BASE, words);
  const hart = new Hart(mem);
  hart.pc = CODE_BASE;
  for (const [r, v] of Object.entries(options.regs ?? {})) hart.x[Number(r)] = v;
  const stop = hart.run(options.budget ?? 100_000);
  return { hart, mem, stop };
}
