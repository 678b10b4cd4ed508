import type { HartContext } from "../cpu/cpu-types.ts";

/**
 * The guest frame of `vmspace_ctl(id, VMSPACE_CTL_RUN, frame)`, in the caller's memory: little-endian
 * u32 words. The call loads x1..x31 and pc from it, runs the guest, and stores them back with why
 * the run ended (DragonFly's trapframe, flattened for RV32).
 *
 * | offset | word |
 * |---|---|
 * | 0..127 | x0..x31 (x0 is ignored on entry and stored as 0) |
 * | 128 | pc |
 * | 132 | cause (a VMTRAP_* value; also the call's result) |
 * | 136 | value (fault address, instruction bits, or the guest's a7 for a syscall) |
 * | 140 | signo the vkernel should post for the trap (SIGSEGV, SIGBUS, SIGILL, SIGTRAP; else 0) |
 * | 144 | si_code (SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR, BUS_ADRALN, ILL_ILLOPC, TRAP_BRKPT; else 0) |
 * | 148 | in: budget, at most this many guest instructions, up to one quantum even past the slice (H9); 0 = the rest of the slice; written as 0 |
 * | 152 | out: instructions the guest retired in this run |
 * | 156 | in: flags, bit 0 VMFRAME_SAME_CONTEXT (keep the LR reservation), bit 1 VMFRAME_TAGGED with a context tag in bits 8..31 (the reservation is the tag's, on any hart); written as 0 |
 */
export const GUEST_FRAME_SIZE = 160;
export const FRAME_PC = 128;
export const FRAME_CAUSE = 132;
export const FRAME_VALUE = 136;
export const FRAME_SIGNO = 140;
export const FRAME_CODE = 144;
/** In: the caller's instruction budget for this run (0 = the rest of its slice). */
export const FRAME_BUDGET = 148;
/** Out: instructions retired by the run. */
export const FRAME_RETIRED = 152;
/** In: VMFRAME_* flags. */
export const FRAME_FLAGS = 156;
/** The run continues the same guest context as this LWP's last run: keep its LR reservation. */
export const VMFRAME_SAME_CONTEXT = 1;
/**
 * The run is of guest context `flags >>> 8` (the caller's thread id, 1..0xFFFFFF): its LR
 * reservation is parked under that tag between runs, whichever of the caller's LWPs runs it next
 * (stores by any hart still break it). With VMFRAME_SAME_CONTEXT the parked one is taken up, else
 * dropped (a new context, or one whose registers were reloaded).
 */
export const VMFRAME_TAGGED = 2;

/** How a guest run ended (the frame's trailer). */
export interface GuestTrap {
  cause: number;
  value: number;
  signo: number;
  code: number;
}

/** Registers from a frame's bytes. */
export function decodeGuestFrame(bytes: Uint8Array): HartContext {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const x: number[] = [];
  for (let i = 0; i < 32; i++) x.push(i === 0 ? 0 : v.getUint32(i * 4, true));
  return { x, pc: v.getUint32(FRAME_PC, true) };
}

/** A frame's bytes from registers and the trap. */
export function encodeGuestFrame(ctx: HartContext, trap: GuestTrap): Uint8Array {
  const bytes = new Uint8Array(GUEST_FRAME_SIZE);
  const v = new DataView(bytes.buffer);
  for (let i = 1; i < 32; i++) v.setUint32(i * 4, (ctx.x[i] ?? 0) >>> 0, true);
  v.setUint32(FRAME_PC, ctx.pc >>> 0, true);
  v.setUint32(FRAME_CAUSE, trap.cause >>> 0, true);
  v.setUint32(FRAME_VALUE, trap.value >>> 0, true);
  v.setUint32(FRAME_SIGNO, trap.signo >>> 0, true);
  v.setUint32(FRAME_CODE, trap.code >>> 0, true);
  return bytes;
}

/** What the frame functions need of a hart: its register file and pc. */
export interface FrameRegisters {
  readonly x: Int32Array;
  pc: number;
}

const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Load x1..x31 and pc from the frame at `bytes[offset..]` straight into `regs` (x0 becomes 0). */
export function loadGuestFrame(regs: FrameRegisters, bytes: Uint8Array, offset: number): void {
  const v = view(bytes);
  regs.x[0] = 0;
  for (let i = 1; i < 32; i++) regs.x[i] = v.getInt32(offset + i * 4, true);
  regs.pc = v.getUint32(offset + FRAME_PC, true);
}

/** Store `regs` and `trap` as a frame at `bytes[offset..]` (without allocating). */
export function storeGuestFrame(
  regs: FrameRegisters,
  trap: GuestTrap,
  bytes: Uint8Array,
  offset: number,
): void {
  const v = view(bytes);
  v.setUint32(offset, 0, true);
  for (let i = 1; i < 32; i++) v.setInt32(offset + i * 4, regs.x[i] as number, true);
  v.setUint32(offset + FRAME_PC, regs.pc >>> 0, true);
  v.setUint32(offset + FRAME_CAUSE, trap.cause >>> 0, true);
  v.setUint32(offset + FRAME_VALUE, trap.value >>> 0, true);
  v.setUint32(offset + FRAME_SIGNO, trap.signo >>> 0, true);
  v.setUint32(offset + FRAME_CODE, trap.code >>> 0, true);
  for (let o = FRAME_CODE + 4; o < GUEST_FRAME_SIZE; o += 4) v.setUint32(offset + o, 0, true);
}
