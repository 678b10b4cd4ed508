import { PAGE_SIZE } from "./cpu-types.ts";
import type { SoftTlb } from "./tlb.ts";

/** Instruction slots in one 4 KiB page (RV32IMA has no 16-bit instructions). */
export const SLOTS_PER_PAGE = PAGE_SIZE >>> 2;

/**
 * The pre-decoded instructions of one page. `code[slot]` packs the operation and its registers
 * (see `decode`); 0 means "not decoded yet", so a page is decoded lazily, one slot at a time,
 * the first time each instruction runs. `imm[slot]` holds the immediate (or, for an illegal
 * instruction, its bits).
 */
export class DecodedPage {
  readonly code = new Int32Array(SLOTS_PER_PAGE);
  readonly imm = new Int32Array(SLOTS_PER_PAGE);
  /** Translated regions by first slot (see jit.ts), and how hot each slot is. */
  readonly blocks: (BlockFn | null)[] = new Array<BlockFn | null>(SLOTS_PER_PAGE).fill(null);
  readonly heat = new Uint8Array(SLOTS_PER_PAGE);
  blockCount = 0;

  constructor(readonly page: Uint8Array) {}

  /** The word at `slot` was written: forget its decoding and every block of the page. */
  invalidate(slot: number): void {
    this.code[slot] = 0;
    if (this.blockCount !== 0) this.dropBlocks();
  }

  dropBlocks(): void {
    this.blocks.fill(null);
    this.heat.fill(0);
    this.blockCount = 0;
  }
}

/**
 * A translated region (jit.ts): runs from its first instruction, at `pc` (regions are
 * position-independent, since one page may be mapped at several addresses), retiring at most
 * `budget` instructions, and returns the next pc. It leaves the count in `t.retired`, and in
 * `t.exitKind` why it stopped: EXIT_NONE (the next pc is outside the region, or the budget left
 * does not fit its next segment, or it stored into decoded code), EXIT_FAULT or EXIT_MISALIGNED
 * (the instruction at the returned pc trapped and did not retire).
 */
export type BlockFn = (r: Int32Array, t: SoftTlb, pc: number, budget: number) => number;

/** Stands for "this page has no decoded instructions", so TLB arrays never hold null. */
export const NO_DECODE = new DecodedPage(new Uint8Array(PAGE_SIZE));

/**
 * One cache for every hart in the process, keyed by the page's own storage: harts that share a
 * page (threads of one process, a shared mapping) share its decoded instructions, and a store by
 * any hart invalidates them for all. A page the kernel frees is forgotten with it (WeakMap).
 */
let cache = new WeakMap<Uint8Array, DecodedPage>();

/**
 * Bumped when a page gets a decode record or the cache is dropped. A hart caches "does this page
 * have a decode record" in its write TLB; when the epoch moved, that cache may be stale and the
 * hart refreshes it at the start of its next `run` (only one hart runs at a time).
 */
let epoch = 0;

export function decodeEpoch(): number {
  return epoch;
}

/** The decode record of `page`, created (empty) if it has none. */
export function decodedPageFor(page: Uint8Array): DecodedPage {
  let d = cache.get(page);
  if (d === undefined) {
    d = new DecodedPage(page);
    cache.set(page, d);
    epoch++;
  }
  return d;
}

/** The decode record of `page`, or `NO_DECODE`. */
export function existingDecodedPage(page: Uint8Array): DecodedPage {
  return cache.get(page) ?? NO_DECODE;
}

/**
 * Forget the decoded instructions of `page`. Stores made by harts do this by themselves; the
 * kernel calls it when it rewrites a page's bytes behind the harts' back (copyout into a code
 * page, reuse of a freed page's storage) while a hart may have executed from it.
 */
export function invalidateDecodedPage(page: Uint8Array): void {
  const d = cache.get(page);
  if (d === undefined) return;
  d.code.fill(0);
  d.dropBlocks();
}

/** Drop every decoded instruction (FENCE.I). */
export function flushDecodeCache(): void {
  cache = new WeakMap();
  epoch++;
}
