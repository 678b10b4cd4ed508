import type { Kernel } from "../kernel.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { EFAULT, EINVAL } from "./errno.ts";
import { type SyscallArgs, type SyscallResult, sleepOn } from "./syscall-types.ts";

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_BOOTTIME = 7;
export const TIMER_ABSTIME = 1;
const NS = 1_000_000_000;

/** The clock's value now as [seconds, nanoseconds], or null for an unknown clock. */
function clockNow(k: Kernel, clock: number): [number, number] | null {
  const now = k.now();
  const sec = Math.floor(now / NS);
  const nsec = now % NS;
  if (clock === CLOCK_REALTIME) return [k.realtimeEpoch + sec, nsec];
  if (clock === CLOCK_MONOTONIC || clock === CLOCK_MONOTONIC_RAW || clock === CLOCK_BOOTTIME)
    return [sec, nsec];
  return null;
}

/** clock_gettime64(clock, struct { i64 sec; i64 nsec } *): virtual time, 1 instruction = 1 ns. */
export function sys_clock_gettime64(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const t = clockNow(k, a[0] as number);
  if (t === null) return -EINVAL;
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(t[0]), true);
  v.setBigInt64(8, BigInt(t[1]), true);
  return lwp.proc.vm.copyout(a[1] as number, b) === 0 ? 0 : -EFAULT;
}

/**
 * clock_nanosleep_time64(clock, flags, req, rem): sleep on virtual time until the deadline (a
 * signal ends it early with -EINTR; for a relative sleep the kernel then writes what was left
 * to `rem`: see Kernel.interruptSleep).
 */
export function sys_clock_nanosleep_time64(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [clock, flags, reqAddr] = a as [number, number, number];
  const now = clockNow(k, clock);
  if (now === null) return -EINVAL;
  const b = lwp.proc.vm.copyin(reqAddr, 16);
  if (typeof b === "number") return -EFAULT;
  const v = new DataView(b.buffer);
  const sec = Number(v.getBigInt64(0, true));
  const nsec = Number(v.getBigInt64(8, true));
  if (sec < 0 || nsec < 0 || nsec >= NS) return -EINVAL;
  // Seconds and nanoseconds apart: REALTIME in ns does not fit a double exactly.
  const delta = (flags & TIMER_ABSTIME) !== 0 ? (sec - now[0]) * NS + (nsec - now[1]) : sec * NS + nsec;
  if (delta <= 0) return 0;
  return sleepOn(null, k.now() + delta, "nanosleep");
}
