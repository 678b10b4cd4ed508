import type { WaitChannel } from "../fs/file-types.ts";
import type { Kernel } from "../kernel.ts";
import type { Lwp, SleepMode } from "../proc/proc-types.ts";

/** A handler asks to sleep: on `chan` (null = deadline only) until a wakeup or `deadline`. */
export interface SleepRequest {
  readonly sleep: WaitChannel | null;
  /** Absolute virtual ns, or null for no timeout. */
  readonly deadline: number | null;
  readonly mode: SleepMode;
}

/** The handler set the registers itself (rt_sigreturn, exit): leave a0 and pc alone. */
export const JUSTRETURN: unique symbol = Symbol("JUSTRETURN");

/** A number (a0: value, or -errno), a sleep, or JUSTRETURN. */
export type SyscallResult = number | SleepRequest | typeof JUSTRETURN;

/** a0..a5 as unsigned 32-bit values. */
export type SyscallArgs = readonly number[];

export type SyscallHandler = (k: Kernel, lwp: Lwp, args: SyscallArgs) => SyscallResult;

export function sleepOn(chan: WaitChannel | null, deadline: number | null, mode: SleepMode): SleepRequest {
  return { sleep: chan, deadline, mode };
}

/** a signed view of an unsigned argument. */
export const signed = (v: number): number => v | 0;
