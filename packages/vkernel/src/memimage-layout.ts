/**
 * Fixed addresses of the vkernel's own address space (vmspace0) and of a guest's window. See
 * DESIGN.md §2.1.
 */

/** memimage, the vkernel's physical RAM: one MAP_SHARED anonymous object at this address. */
export const MEMIMG_BASE = 0x4000_0000;
/** The pcpu areas, one per vCPU (`pcpuAddr`): the guest frame lives at the start of each. */
export const PCPU_BASE = 0x1000_0000;

/** The guest's VPAGETABLE window: the whole user range [0x10000, 0xC0000000). */
export const GUEST_WINDOW_START = 0x0001_0000;
export const GUEST_WINDOW_END = 0xc000_0000;

export const PAGE_BYTES = 4096;

// ---- the full vkernel (DESIGN.md §2.1) ---------------------------------------------------------

/** Bytes of one vCPU's pcpu area: the pcpu page (frame, token, doorbell) and its bounce page. */
export const PCPU_STRIDE = 0x2000;
/** Offsets in a pcpu page. */
export const PCPU_FRAME = 0x000;
export const PCPU_TOKEN = 0x100;
/** Bounce page: console output on its way to the host's fd 1. */
export const PCPU_BOUNCE = 0x1000;
/** The pcpu area of vCPU `cpu`. */
export const pcpuAddr = (cpu: number): number => PCPU_BASE + cpu * PCPU_STRIDE;
/** `mycpu` from a vCPU's tp (its pcpu area; the boot thread, vCPU 0, may still have tp 0). */
export const cpuOfTp = (tp: number): number => (tp === 0 ? 0 : (tp - PCPU_BASE) / PCPU_STRIDE);

/** The shared page (`struct globaldata` words every vCPU sees) and the cothreads' buffers. */
export const SHARED_BASE = 0x1100_0000;
export const SHARED_BYTES = 0x4000;
/** stop_cpus generation, vCPUs parked, restart generation, the idle doorbell. */
export const SH_STOP_GEN = 0x00;
export const SH_STOPPED = 0x04;
export const SH_RESTART_GEN = 0x08;
export const SH_DOORBELL = 0x0c;
/** vcons rx ring: bytes queued (the cothread appends, a vCPU drains), EOF flag, data. */
export const SH_RX_COUNT = 0x10;
export const SH_RX_EOF = 0x14;
export const SH_RX_DATA = 0x1000;
export const SH_RX_CAP = 0x1000;
/** The rx cothread's read buffer. */
export const SH_RX_READ = 0x2000;
export const SH_RX_READ_BYTES = 256;
/** Scratch for boot-time syscall arguments (paths, sigaction, sigset, termios, llseek). */
export const SH_SCRATCH = 0x3000;

/** The state region: header + canonical CBOR of the inner kernel (DESIGN.md §5.8). */
export const STATE_BASE = 0x2000_0000;
export const STATE_MAX_BYTES = 16 * 1024 * 1024;
/** pcpu word: a checkpoint kthread the SIGCKPT handler queued for this (idle) vCPU (its signo). */
export const PCPU_KTHREAD = 0x104;
/** pcpu bytes: the host's `struct winsize` (8 bytes), read by this vCPU's SIGWINCH handler. */
export const PCPU_WINSIZE = 0x180;
/** Shared word: 1 + the vCPU running the checkpoint protocol, 0 when none (it does not park). */
export const SH_CKPT_OWNER = 0x18;
/** Shared word: a SIGCKPTEXIT came while a SIGCKPT protocol ran: exit after this one. */
export const SH_CKPT_EXIT = 0x1c;
