import { Access } from "../cpu/cpu-types.ts";
import { flushDecodeCache, invalidateDecodedPage } from "../cpu/decode-cache.ts";
import { Hart } from "../cpu/hart.ts";
import type { VmObjectIds } from "./vm-space.ts";
import { VmSpace } from "./vm-space.ts";

/**
 * Guest vmspaces (DragonFly's `vmspace_create` family, `sys/vm/vm_vmspace.c`): address spaces a
 * process (the vkernel) creates, windows into its own memory through Sv32 page tables, and runs
 * guest code in with `vmspace_ctl(RUN)`. They live only in the host kernel: a freeze does not
 * save them and a thaw starts with an empty table (ARCHITECTURE §4 step 6).
 */

/** mmap flag for vmspace_mmap: translate through Sv32 tables in the object (bit 25, unused by Linux). */
export const MAP_VPAGETABLE = 0x0200_0000;
/** vmspace_mcontrol behaviours (far above Linux's MADV_* numbers). */
export const MADV_INVAL = 0x1000;
export const MADV_SETMAP = 0x1001;
/** vmspace_ctl commands (DragonFly's value). */
export const VMSPACE_CTL_RUN = 1;
/** At most this many guest vmspaces per process (-ENOMEM beyond). */
export const MAX_GUEST_VMSPACES = 4096;

/** Why a `vmspace_ctl(RUN)` returned: the call's result and the frame's `cause` word. */
export const VMTRAP_SYSCALL = 1;
/** A memory fault or misaligned access; `value` is the address, `signo`/`code` say which. */
export const VMTRAP_FAULT = 2;
/** An illegal or unsupported instruction; `value` holds its bits. */
export const VMTRAP_ILLEGAL = 3;
/** `ebreak`. */
export const VMTRAP_BREAKPOINT = 4;
/** The caller's time slice ended; `pc` is the next guest instruction. */
export const VMTRAP_SLICE = 5;
/**
 * Reserved for an LWP that a thaw finds inside vmspace_ctl: re-enter the guest. A guest run never
 * spans a host slice boundary (see KERNEL.md "Guest vmspaces"), so this kernel never returns it.
 */
export const VMTRAP_RESTART = 6;

/** MADV_INVAL ranges up to this many pages drop their pages' decoded code one by one. */
const INVAL_WALK_PAGES = 256;

/**
 * MADV_INVAL over [addr, addr + len) of a guest vmspace: every cached translation of the vmspace
 * goes (its generation moves), and so does decoded code of the pages the range maps now, since
 * the vkernel may have written new instructions into memimage (a larger range drops all decoded
 * code, which is always correct, only slower).
 */
export function invalidateGuestRange(space: VmSpace, addr: number, len: number): void {
  space.invalidate();
  const first = Math.floor((addr >>> 0) / 4096);
  const pages = Math.ceil(((addr >>> 0) + (len >>> 0)) / 4096) - first;
  if (pages > INVAL_WALK_PAGES) {
    flushDecodeCache();
    return;
  }
  for (let i = 0; i < pages; i++) {
    const va = (first + i) * 4096;
    const page = space.translate(va, Access.Execute);
    if (typeof page !== "number") invalidateDecodedPage(page);
  }
}

/** One process's guest vmspaces (DragonFly's `p_vkernel` tree) and the harts that run them. */
export class GuestVmspaceTable {
  /** id (the caller's u32, e.g. the address of its pmap) → the guest vmspace. */
  readonly spaces = new Map<number, VmSpace>();
  /** tid → the hart that runs guest code for that LWP (kept so its TLB and JIT stay warm). */
  readonly harts = new Map<number, Hart>();

  constructor(private readonly ids: VmObjectIds) {}

  /** vmspace_create: 0, -EEXIST (taken) or -ENOMEM (too many). */
  create(id: number): VmSpace | "exists" | "full" {
    const key = id >>> 0;
    if (this.spaces.has(key)) return "exists";
    if (this.spaces.size >= MAX_GUEST_VMSPACES) return "full";
    const space = new VmSpace(this.ids);
    this.spaces.set(key, space);
    return space;
  }

  get(id: number): VmSpace | undefined {
    return this.spaces.get(id >>> 0);
  }

  /** vmspace_destroy: unmap everything (dropping object references); false if there is no such id. */
  destroy(id: number): boolean {
    const space = this.spaces.get(id >>> 0);
    if (space === undefined) return false;
    space.destroy();
    this.spaces.delete(id >>> 0);
    for (const [tid, hart] of this.harts) if (hart.mem === space) this.harts.delete(tid);
    return true;
  }

  /** The guest hart of LWP `tid`, pointed at `space` (switching spaces flushes its TLB). */
  hartFor(tid: number, space: VmSpace): Hart {
    let hart = this.harts.get(tid);
    if (hart === undefined) {
      hart = new Hart(space);
      this.harts.set(tid, hart);
    } else if (hart.mem !== space) {
      hart.mem = space;
    }
    return hart;
  }

  /** Drop everything (process exit). */
  clear(): void {
    for (const space of this.spaces.values()) space.destroy();
    this.spaces.clear();
    this.harts.clear();
  }
}
