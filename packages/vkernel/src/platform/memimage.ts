import type { VmObject, VmPageBackend, VmSpace } from "@vkc/host-kernel";
import { PhysAccessError } from "../errors.ts";
import { MEMIMG_BASE, PAGE_BYTES } from "../memimage-layout.ts";
import type { PhysAllocator } from "../phys-memory.ts";

/**
 * memimage, the vkernel's physical RAM, as the pages of the host's shared anonymous object that
 * vmspace0 maps at MEMIMG_BASE. The inner kernel's objects hold these very arrays (H1 page
 * backend), so a guest running on the host and the inner kernel's copyin/copyout see the same
 * bytes, and every inner write sets the host object's dirty bit.
 */
export class Memimage {
  constructor(
    /** The host VM object behind memimage. */
    readonly object: VmObject,
    readonly alloc: PhysAllocator,
  ) {}

  /** memimage of the vkernel whose address space is `vm` (mapped at MEMIMG_BASE). */
  static of(vm: VmSpace, alloc: PhysAllocator): Memimage {
    const e = vm.lookup(MEMIMG_BASE);
    if (e === undefined || e.start !== MEMIMG_BASE) throw new PhysAccessError(0, PAGE_BYTES);
    return new Memimage(e.object, alloc);
  }

  get pages(): number {
    return this.alloc.pages;
  }

  /** The page at physical address `phys`, writable (marks the host page dirty). */
  pageForWrite(phys: number): Uint8Array {
    const index = Math.floor(phys / PAGE_BYTES);
    if (index < 0 || index >= this.alloc.pages) throw new PhysAccessError(phys, PAGE_BYTES);
    return this.object.pageForWrite(index);
  }

  /** The page at `phys` for reading (the host's zero page when never touched). */
  pageForRead(phys: number): Uint8Array {
    const index = Math.floor(phys / PAGE_BYTES);
    if (index < 0 || index >= this.alloc.pages) throw new PhysAccessError(phys, PAGE_BYTES);
    return this.object.pageForRead(index);
  }

  readWord(phys: number): number {
    const p = this.pageForRead(phys);
    const o = phys & 0xfff;
    return (
      ((p[o] as number) |
        ((p[o + 1] as number) << 8) |
        ((p[o + 2] as number) << 16) |
        ((p[o + 3] as number) << 24)) >>>
      0
    );
  }

  writeWord(phys: number, value: number): void {
    const p = this.pageForWrite(phys);
    const o = phys & 0xfff;
    p[o] = value & 0xff;
    p[o + 1] = (value >>> 8) & 0xff;
    p[o + 2] = (value >>> 16) & 0xff;
    p[o + 3] = value >>> 24;
  }

  /** A fresh zeroed page (page tables, inner objects). */
  allocZeroed(): number {
    const phys = this.alloc.alloc();
    this.pageForWrite(phys).fill(0);
    return phys;
  }

  /** The H1 backend the inner kernel's objects use: their pages are memimage pages. */
  backend(): VmPageBackend {
    return {
      alloc: () => {
        const phys = this.allocZeroed();
        return { page: this.pageForWrite(phys), phys };
      },
      ref: (phys) => this.alloc.ref(phys),
      release: (phys) => this.alloc.free(phys),
      written: (phys) => {
        this.object.pageForWrite(Math.floor(phys / PAGE_BYTES));
      },
    };
  }
}
