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
 * Hands out memimage pages, lowest first (deterministic). Page 0 is never handed out, so a
 * physical address of 0 can mean "none". Its whole state is `next` (plain data). The first
 * slice never frees pages; DESIGN.md §2.2 replaces this with a bitmap.
 */
export class PhysAllocator {
  constructor(
    readonly pages: number,
    public next = 1,
  ) {}

  /** Physical address of a fresh page (memimage starts zeroed, and pages are never reused). */
  alloc(): number {
    if (this.next >= this.pages) throw new PhysExhaustedError(this.pages);
    const phys = this.next * PAGE_BYTES;
    this.next++;
    return phys;
  }
}
