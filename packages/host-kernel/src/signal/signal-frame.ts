import type { HartContext } from "../cpu/cpu-types.ts";
import type { AltStack, SigAction, SigInfo } from "../proc/proc-types.ts";
import { SS_DISABLE, SS_ONSTACK } from "./signal-numbers.ts";

/**
 * The rt_sigframe the kernel pushes on the user stack (see KERNEL.md, "Signal frame"):
 *
 *   frame+0    siginfo_t (128 bytes): si_signo @0, si_errno @4, si_code @8,
 *              then si_addr @12 (faults) or si_pid @12, si_uid @16 (kill, tgkill)
 *   frame+128  ucontext:
 *                uc_flags    @0   u32
 *                uc_link     @4   u32
 *                uc_stack    @8   stack_t {u32 ss_sp; i32 ss_flags; u32 ss_size}
 *                uc_sigmask  @20  u32[2] (a 64-bit set: bit n-1 = signal n)
 *                __unused    @28  120 bytes
 *                (padding: the mcontext is 16-byte aligned, as in Linux's rv32 ucontext)
 *                gregs[32]   @160 u32: gregs[0] = pc, gregs[i] = x_i (no FP state: RV32IMA)
 *              (ucontext size 288)
 *
 * Total 416 bytes; the frame address is 16-byte aligned. This is Linux's rv32 layout, so the
 * same handler code works under qemu-riscv32.
 */
export const SIGINFO_SIZE = 128;
export const UC_STACK = 8;
export const UC_SIGMASK = 20;
export const UC_GREGS = 160;
export const UCONTEXT_SIZE = UC_GREGS + 32 * 4;
export const FRAME_SIZE = SIGINFO_SIZE + UCONTEXT_SIZE;

/** Where the handler's frame goes: on the altstack if asked for and not already on it. */
export function frameAddress(sp: number, act: SigAction, alt: AltStack, onstackFlag: number): number {
  let top = sp >>> 0;
  const altEnabled = (alt.flags & SS_DISABLE) === 0 && alt.size > 0;
  const onAlt = altEnabled && top > alt.sp && top <= alt.sp + alt.size;
  if ((act.flags & onstackFlag) !== 0 && altEnabled && !onAlt) top = (alt.sp + alt.size) >>> 0;
  return ((top - FRAME_SIZE) & ~15) >>> 0;
}

/** The ss_flags value a program reads for `alt` while running on stack pointer `sp`. */
export function altStackFlags(alt: AltStack, sp: number): number {
  if ((alt.flags & SS_DISABLE) !== 0 || alt.size === 0) return SS_DISABLE;
  const s = sp >>> 0;
  return s > alt.sp && s <= alt.sp + alt.size ? SS_ONSTACK : 0;
}

/** Serialize the frame: siginfo + ucontext with `ctx` and `oldMask`. */
export function encodeFrame(info: SigInfo, ctx: HartContext, oldMask: bigint, alt: AltStack): Uint8Array {
  const bytes = new Uint8Array(FRAME_SIZE);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, info.signo, true);
  v.setInt32(4, 0, true);
  v.setInt32(8, info.code, true);
  if (info.addr !== 0) v.setUint32(12, info.addr >>> 0, true);
  else {
    v.setInt32(12, info.pid, true);
    v.setUint32(16, info.uid >>> 0, true);
    if (info.status !== undefined) v.setInt32(20, info.status, true); // SIGCHLD's si_status
  }
  const uc = SIGINFO_SIZE;
  v.setUint32(uc + UC_STACK, alt.sp >>> 0, true);
  v.setInt32(uc + UC_STACK + 4, altStackFlags(alt, ctx.x[2] ?? 0), true);
  v.setUint32(uc + UC_STACK + 8, alt.size >>> 0, true);
  v.setUint32(uc + UC_SIGMASK, Number(oldMask & 0xffff_ffffn), true);
  v.setUint32(uc + UC_SIGMASK + 4, Number(oldMask >> 32n), true);
  v.setUint32(uc + UC_GREGS, ctx.pc >>> 0, true);
  for (let i = 1; i < 32; i++) v.setUint32(uc + UC_GREGS + 4 * i, (ctx.x[i] ?? 0) >>> 0, true);
  return bytes;
}

/** Read back what rt_sigreturn restores from a ucontext. */
export function decodeUcontext(uc: Uint8Array): { ctx: HartContext; mask: bigint; stack: AltStack } {
  const v = new DataView(uc.buffer, uc.byteOffset, uc.byteLength);
  const x: number[] = [0];
  for (let i = 1; i < 32; i++) x.push(v.getUint32(UC_GREGS + 4 * i, true));
  const mask = BigInt(v.getUint32(UC_SIGMASK, true)) | (BigInt(v.getUint32(UC_SIGMASK + 4, true)) << 32n);
  const stack = {
    sp: v.getUint32(UC_STACK, true),
    flags: v.getInt32(UC_STACK + 4, true),
    size: v.getUint32(UC_STACK + 8, true),
  };
  return { ctx: { x, pc: v.getUint32(UC_GREGS, true) }, mask, stack };
}
