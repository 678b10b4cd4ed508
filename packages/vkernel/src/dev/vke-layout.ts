/**
 * Where vke keeps its state in vmspace0 (DESIGN.md §2.1, §4.1): a private anonymous region at a
 * fixed address, so a host freeze captures the rings and every frame queued in them. One control
 * page, then per vke a header page (tap fd, pause words, ring indexes, bounce buffers) followed by
 * its rx ring and its tx ring. Guests cannot reach any of it (only memimage is ever mapped for
 * them).
 */

/** The vke region in vmspace0. */
export const VKE_BASE = 0x1200_0000;
/** Most vke interfaces one vkernel has. */
export const VKE_MAX = 8;
/** Slots per ring, and bytes per slot (u32 length + the frame). */
export const VKE_RING_SLOTS = 64;
export const VKE_SLOT_BYTES = 0x600;
/** Largest frame a slot holds: 14 + MTU 1500. */
export const VKE_FRAME_MAX = 1514;
export const VKE_MTU = 1500;
const RING_BYTES = VKE_RING_SLOTS * VKE_SLOT_BYTES;
/** Bytes per vke: header page + rx ring + tx ring, rounded up. */
export const VKE_STRIDE = 0x4_0000;
/** Size of the whole region for `n` interfaces. */
export const vkeRegionBytes = (n: number): number => 0x1000 + n * VKE_STRIDE;

// ---- control page (one per vkernel) ------------------------------------------------------------
/** Progress of the step-5 / step-7 machines: which vke, and its phase (0 = not started). */
export const VC_CKPT_TAP = 0x00;
export const VC_CKPT_PHASE = 0x04;
/** Scratch for boot-time syscall arguments (sigset, ioctl argument, tap path). */
export const VC_SCRATCH = 0x100;
export const VC_PATH = 0x200;

// ---- per-vke header page -----------------------------------------------------------------------
/** The host tap fd (-1 while closed). */
export const VH_FD = 0x00;
/** 1 while the device is paused (checkpoint), and a generation the cothreads sleep on. */
export const VH_PAUSED = 0x04;
export const VH_PAUSE_GEN = 0x08;
/** rx ring: consumer (vCPU) and producer (vke-rx) indexes, free-running u32. */
export const VH_RX_HEAD = 0x10;
export const VH_RX_TAIL = 0x14;
/** tx ring: consumer (vke-tx) and producer (the inner kernel's transmit) indexes. */
export const VH_TX_HEAD = 0x18;
export const VH_TX_TAIL = 0x1c;
/** The tx tail the tx cothread was last woken for (a vCPU wakes it when the tail moved on). */
export const VH_TX_WOKEN = 0x20;
/** Frames the inner kernel sent while the tx ring was full (dropped, like a full NIC ring). */
export const VH_TX_DROPPED = 0x24;
/** 1 while a vCPU waits for the tx ring to empty (before the vkernel exits). */
export const VH_TX_WAITER = 0x28;
/** Frames moved from the host tap into the rx ring by checkpoint step 5. */
export const VH_DRAINED = 0x2c;
/** 1 while the rx cothread sleeps for room in a full rx ring (a vCPU that made room wakes it). */
export const VH_RX_WAITER = 0x30;
/** Bytes of a frame the rx cothread holds in its bounce buffer while the ring is full (0: none). */
export const VH_RX_HELD = 0x34;
/** The int FIONREAD writes. */
export const VH_IOCTL_ARG = 0x40;
/** Step 5's read buffer (the rx cothread may hold a frame of its own in its bounce buffer). */
export const VH_DRAIN_BUF = 0x200;
/** The rx cothread's read buffer. */
export const VH_RX_BOUNCE = 0x800;

/** Control page address. */
export const vkeControl = (): number => VKE_BASE;
/** Header page of vke `k`. */
export const vkeHeader = (k: number): number => VKE_BASE + 0x1000 + k * VKE_STRIDE;
/** Slot `index` (free-running) of vke `k`'s rx or tx ring. */
export const vkeSlot = (k: number, ring: "rx" | "tx", index: number): number =>
  vkeHeader(k) + 0x1000 + (ring === "tx" ? RING_BYTES : 0) + (index % VKE_RING_SLOTS) * VKE_SLOT_BYTES;
