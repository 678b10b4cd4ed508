import type { Kernel } from "../kernel.ts";
import { NativeHart } from "../native/native-hart.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { EFAULT, EINVAL } from "./errno.ts";
import { JUSTRETURN, type SyscallArgs, type SyscallResult } from "./syscall-types.ts";

/** exit(code): end the calling thread; the last thread ends the process. */
export function sys_exit(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  k.exitLwp(lwp, (a[0] as number) & 0xff);
  return JUSTRETURN;
}

/** exit_group(code): end the whole process. */
export function sys_exit_group(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  k.exitProcess(lwp.proc, (a[0] as number) & 0xff);
  return JUSTRETURN;
}

export function sys_getpid(_k: Kernel, lwp: Lwp): SyscallResult {
  return lwp.proc.pid;
}

/**
 * getppid(): the parent's pid — init's once the parent has exited, 0 for a spawned process (and
 * for an orphan that outlived init).
 */
export function sys_getppid(_k: Kernel, lwp: Lwp): SyscallResult {
  return lwp.proc.ppid;
}

export function sys_gettid(_k: Kernel, lwp: Lwp): SyscallResult {
  return lwp.tid;
}

/** sched_yield: go to the tail of this CPU's run queue. */
export function sys_sched_yield(k: Kernel, lwp: Lwp): SyscallResult {
  k.preempt(lwp);
  return 0;
}

/**
 * lwp_create(entry, stack_top, tls, arg, tid_addr) → tid. The new LWP starts at `entry` with
 * sp = stack_top, tp = tls, a0 = arg, gp copied from the creator, every other register 0, the
 * creator's signal mask, nothing pending, no altstack. In a native process `entry` indexes the
 * program's `threadRoles` and `tls` is the thread's tp (its steps read it as `env.tp`).
 */
export function sys_lwp_create(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [entry, stackTop, tls, arg, tidAddr] = a as [number, number, number, number, number];
  const proc = lwp.proc;
  const tid = k.nextId;
  if (tidAddr !== 0 && proc.vm.writeU32(tidAddr, tid) !== 0) return -EFAULT;
  let child: Lwp;
  if (lwp.hart instanceof NativeHart) {
    const program = lwp.hart.program;
    const role = program.threadRoles?.[entry];
    if (role === undefined) return -EINVAL;
    k.nextId += 1;
    child = k.addNativeThread(proc, program, role, null, arg, tid);
    child.hart.x[4] = tls | 0; // env.tp
  } else {
    const hart = k.createHart(proc.vm);
    hart.pc = entry;
    hart.x[2] = stackTop | 0;
    hart.x[3] = lwp.hart.x[3] as number;
    hart.x[4] = tls | 0;
    hart.x[10] = arg | 0;
    k.nextId += 1;
    child = k.addLwp(proc, hart, tid);
  }
  child.sigmask = lwp.sigmask;
  child.tidAddr = tidAddr;
  return tid;
}
