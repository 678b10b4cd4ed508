import {
  type Kernel,
  type NativeAction,
  type NativeEnv,
  type NativeThreadContext,
  syscalls,
  TIOCGWINSZ,
} from "@vkc/host-kernel";
import { cpuOfTp, PCPU_WINSIZE, pcpuAddr } from "../memimage-layout.ts";
import { attach } from "../vkernel-instance.ts";

/**
 * vcons window size (DESIGN.md §4.2): the inner console has the host terminal's size. Boot reads
 * it once; after that the host's SIGWINCH runs the `winch` handler on a vCPU, which reads the new
 * size with `ioctl(0, TIOCGWINSZ)` and sets it on the inner tty — whose own SIGWINCH then reaches
 * the guests in its foreground group, exactly as a resize reaches programs on the host.
 */

/** `ioctl(0, TIOCGWINSZ, &pcpu.winsize)` for vCPU `cpu`. */
export function getWinsize(cpu: number): NativeAction {
  return { syscall: syscalls.SYS_ioctl, args: [0, TIOCGWINSZ, pcpuAddr(cpu) + PCPU_WINSIZE] };
}

/** Set the size `getWinsize(cpu)` read on the inner tty (no change, no SIGWINCH). */
export function applyWinsize(inner: Kernel, env: NativeEnv, cpu: number): void {
  const b = env.vm.copyin(pcpuAddr(cpu) + PCPU_WINSIZE, 8);
  if (typeof b === "number") return;
  const v = new DataView(b.buffer, b.byteOffset, 8);
  const size = {
    rows: v.getUint16(0, true),
    cols: v.getUint16(2, true),
    xpixel: v.getUint16(4, true),
    ypixel: v.getUint16(6, true),
  };
  if (size.rows === 0 && size.cols === 0) return;
  inner.tty.setWinsize(size);
}

/**
 * The SIGWINCH handler role: read the host size, then pass it on. A vkernel that is still booting
 * or was just thawed (its inner kernel not rebuilt yet) skips it: boot reads the size itself.
 */
export function winchHandlerStep(ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const cpu = cpuOfTp(env.tp);
  const st = ctx.state as { winch?: true } | null;
  if (st?.winch !== true) {
    ctx.state = { winch: true };
    return getWinsize(cpu);
  }
  const vk = attach(env.vm);
  if (vk !== undefined && ctx.result === 0) applyWinsize(vk.inner, env, cpu);
  return { syscall: syscalls.SYS_rt_sigreturn };
}
