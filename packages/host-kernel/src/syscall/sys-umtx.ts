import type { Kernel } from "../kernel.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { EBUSY, EFAULT, EINVAL } from "./errno.ts";
import { type SyscallArgs, type SyscallResult, sleepOn } from "./syscall-types.ts";

/**
 * umtx_sleep(addr, value, timeout_us): -EBUSY if *addr != value; otherwise sleep until
 * umtx_wakeup (0), the timeout in virtual microseconds (-ETIMEDOUT; 0 = none) or a signal
 * (-EINTR). The channel is the backing object + offset, so shared mappings meet.
 */
export function sys_umtx_sleep(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [addr, value, timeoutUs] = a as [number, number, number];
  if (addr % 4 !== 0) return -EINVAL;
  const word = lwp.proc.vm.readU32(addr);
  if (word === null) return -EFAULT;
  if (word !== value >>> 0) return -EBUSY;
  const chan = k.umtxChannel(lwp.proc, addr);
  if (chan === null) return -EFAULT;
  const deadline = timeoutUs === 0 ? null : k.now() + timeoutUs * 1000;
  return sleepOn(chan, deadline, "umtx");
}

/** umtx_wakeup(addr, count): wake up to `count` sleepers (0 = all) FIFO; returns how many. */
export function sys_umtx_wakeup(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [addr, count] = a as [number, number];
  const chan = k.umtxChannel(lwp.proc, addr);
  if (chan === null) return -EFAULT;
  return k.wakeupCount(chan, (count | 0) < 0 ? 0 : count);
}
