import type { VmSpace } from "@vkc/host-kernel";
import { PhysAccessError, PhysExhaustedError } from "./errors.ts";
import { PAGE_BYTES } from "./memimage-layout.ts";

/** Byte access to memimage by physical address (a byte offset in memimage). */
export interface PhysMemory {
  /** Size of memimage in bytes. */
  readonly bytes: number;
  read(phys: number, len: number): Uint8Array;
  write(phys: number, data: Uint8Array): void;
}

/** memimage as the vkernel sees it: mapped at `base` in its own (host) address space. */
export function vmPhysMemory(vm: VmSpace, base: number, bytes: number): PhysMemory {
  const check = (phys: number, len: number): void => {
    if (phys < 0 || len < 0 || phys + len > bytes) throw new PhysAccessError(phys, len);
  };
  return {
    bytes,
    read(phys, len) {
      check(phys, len);
      const r = vm.copyin(base + phys, len);
      if (typeof r === "number") throw new PhysAccessError(phys, len);
      return r;
    },
    write(phys, data) {
      check(phys, data.length);
      if (vm.copyout(base + phys, data) !== 0) throw new PhysAccessError(phys, data.length);
    },
  };
}

/** memimage as a plain byte array (unit tests). */
export function arrayPhysMemory(buffer: Uint8Array): PhysMemory {
  return {
    bytes: buffer.length,
    read(phys, len) {
      if (phys < 0 || phys + len > buffer.length) throw new PhysAccessError(phys, len);
      return buffer.slice(phys, phys + len);
    },
    write(phys, data) {
      if (phys < 0 || phys + data.length > buffer.length) throw new PhysAccessError(phys, data.length);
      buffer.set(data, phys);
    },
  };
}

/**
 * Hands out memimage pages, lowest free first (deterministic), and takes them back. Page 0 is
 * never handed out, so a physical address of 0 can mean "none". Pages shared copy-on-write by
 * inner objects are counted (`ref`); `free` drops one reference and the last one frees the page.
 * Its state is plain data (`toState`/`fromState`): the vkernel keeps it in its state region.
 */
export class PhysAllocator {
  /** 1 bit per page: in use. */
  private readonly used: Uint8Array;
  /** Extra references to shared pages (page number → count beyond the first). */
  private readonly shares = new Map<number, number>();
  /** Lowest page that may be free. */
  private hint = 1;
  /** Pages in use. */
  inUse = 0;

  /** `next`: pages 1..next-1 start in use (the slice's bump allocator state). */
  constructor(
    readonly pages: number,
    next = 1,
  ) {
    this.used = new Uint8Array(Math.ceil(pages / 8));
    for (let p = 1; p < Math.min(next, pages); p++) this.mark(p, true);
    this.hint = Math.max(1, next);
  }

  /** One past the highest page in use (the bump allocator's `next`). */
  get next(): number {
    for (let p = this.pages - 1; p >= 1; p--) if (this.isUsed(p)) return p + 1;
    return 1;
  }

  isUsed(page: number): boolean {
    return ((this.used[page >>> 3] as number) & (1 << (page & 7))) !== 0;
  }

  private mark(page: number, on: boolean): void {
    const i = page >>> 3;
    const b = this.used[i] as number;
    const was = (b & (1 << (page & 7))) !== 0;
    if (was === on) return;
    this.used[i] = on ? b | (1 << (page & 7)) : b & ~(1 << (page & 7));
    this.inUse += on ? 1 : -1;
  }

  /** Physical address of a free page (not zeroed here: see the page backend). */
  alloc(): number {
    for (let p = this.hint; p < this.pages; p++) {
      if (!this.isUsed(p)) {
        this.mark(p, true);
        this.hint = p + 1;
        return p * PAGE_BYTES;
      }
    }
    throw new PhysExhaustedError(this.pages);
  }

  /** One more holder of the page at `phys`. */
  ref(phys: number): void {
    const p = Math.floor(phys / PAGE_BYTES);
    this.shares.set(p, (this.shares.get(p) ?? 0) + 1);
  }

  /** Drop one holder of the page at `phys`; the last one frees it. */
  free(phys: number): void {
    const p = Math.floor(phys / PAGE_BYTES);
    const extra = this.shares.get(p);
    if (extra !== undefined) {
      if (extra <= 1) this.shares.delete(p);
      else this.shares.set(p, extra - 1);
      return;
    }
    if (p < 1 || p >= this.pages) return;
    this.mark(p, false);
    if (p < this.hint) this.hint = p;
  }

  /** Plain data: the bitmap (base64) and the share counts. */
  toState(): { pages: number; bitmap: string; shares: number[][] } {
    return {
      pages: this.pages,
      bitmap: Buffer.from(this.used).toString("base64"),
      shares: [...this.shares].sort((a, b) => a[0] - b[0]),
    };
  }

  static fromState(s: { pages: number; bitmap: string; shares: number[][] }): PhysAllocator {
    const a = new PhysAllocator(s.pages);
    const bits = Buffer.from(s.bitmap, "base64");
    for (let p = 1; p < s.pages; p++) if (((bits[p >>> 3] ?? 0) & (1 << (p & 7))) !== 0) a.mark(p, true);
    for (const [p, n] of s.shares) if (p !== undefined && n !== undefined) a.shares.set(p, n);
    a.hint = 1;
    return a;
  }
}
