/**
 * Fixed addresses of the vkernel's own address space (vmspace0) and of a guest's window. See
 * DESIGN.md §2.1; the first slice uses only memimage and one pcpu page (the guest frame) plus a
 * bounce page for forwarding guest output.
 */

/** memimage, the vkernel's physical RAM: one MAP_SHARED anonymous object at this address. */
export const MEMIMG_BASE = 0x4000_0000;
/** Default memimage size of the slice (1 MiB). */
export const DEFAULT_MEMIMG_BYTES = 0x10_0000;
/** vCPU 0's pcpu page: the guest frame lives at its start. */
export const PCPU_BASE = 0x1000_0000;
/** The vmspace_ctl frame of vCPU 0. */
export const FRAME_ADDR = PCPU_BASE;
/** A page the vkernel copies guest output into before a host write. */
export const BOUNCE_ADDR = PCPU_BASE + 0x1000;
export const BOUNCE_BYTES = 0x1000;
/** pcpu page + bounce page. */
export const PCPU_BYTES = 0x2000;

/** The guest's VPAGETABLE window: the whole user range [0x10000, 0xC0000000). */
export const GUEST_WINDOW_START = 0x0001_0000;
export const GUEST_WINDOW_END = 0xc000_0000;
/** The guest's initial stack: the top pages below 0xC0000000, mapped at load. */
export const GUEST_STACK_TOP = 0xc000_0000;
export const GUEST_STACK_PAGES = 16;

export const PAGE_BYTES = 4096;
