import type { WaitChannel } from "../fs/file-types.ts";
import type { Kernel } from "../kernel.ts";
import { NativeHart } from "../native/native-hart.ts";
import type { LwpHart } from "../proc/proc-hart.ts";
import { type Lwp, Process } from "../proc/proc-types.ts";
import { SIG_IGN, SIGCHLD } from "../signal/signal-numbers.ts";
import { ECHILD, EFAULT, EINVAL } from "./errno.ts";
import { type SyscallArgs, type SyscallResult, signed, sleepOn } from "./syscall-types.ts";

/** waitid idtypes (Linux values). */
export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;

/** waitid options (Linux values). */
export const WNOHANG = 0x1;
export const WSTOPPED = 0x2;
export const WEXITED = 0x4;
export const WCONTINUED = 0x8;
export const WNOWAIT = 0x0100_0000;
/** __WNOTHREAD | __WALL | __WCLONE: accepted and ignored (there are no clone children). */
const W_LINUX_FLAGS = 0x2000_0000 | 0x4000_0000 | 0x8000_0000;
const WAITID_OPTIONS = WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | W_LINUX_FLAGS;

/** SIGCHLD si_code values. */
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;

/** siginfo_t as waitid fills it: si_signo, si_errno, si_code, si_pid, si_uid, si_status. */
export const WAITID_SIGINFO_SIZE = 24;
/** struct rusage on ilp32 (two 8-byte timevals, 14 longs): written as zeros when asked for. */
export const RUSAGE_SIZE = 72;

/** sigaction flag: children of this process never become zombies (Linux value). */
export const SA_NOCLDWAIT = 0x2;

/**
 * True when `parent`'s children are reaped as they exit (POSIX: SIGCHLD set to SIG_IGN, or
 * SA_NOCLDWAIT): a waitid then sleeps until the last child is gone and fails with ECHILD.
 */
export function noChildWait(parent: Process): boolean {
  const act = parent.sigacts[SIGCHLD];
  return act !== undefined && (act.handler === SIG_IGN || (act.flags & SA_NOCLDWAIT) !== 0);
}

/** The channel a process's waitid sleeps on; a child's exit wakes it. */
export function waitChannel(pid: number): WaitChannel {
  return `wait:${pid}`;
}

/**
 * clone(flags, newsp, parent_tid*, tls, child_tid*) — only its fork form: flags must be exactly
 * SIGCHLD (-EINVAL otherwise: no threads, no CLONE_VM/VFORK/SETTLS yet; threads are lwp_create).
 * `newsp` != 0 is the child's sp, as on Linux; the tid pointers and tls are unused without their
 * CLONE_* flags. Returns the child's pid to the parent; the child returns 0.
 */
export function sys_clone(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [flags, newsp] = a as [number, number];
  if (flags !== SIGCHLD) return -EINVAL;
  return forkProcess(k, lwp, newsp).pid;
}

/**
 * fork(2): a new process that is a copy of `lwp`'s with only that thread — the same registers
 * (a0 = 0, pc past the ecall, sp = `stack` if non-zero), a copy-on-write `VmSpace.fork()`, the
 * descriptor table duplicated (sharing open file descriptions, so pipe ends are counted once per
 * description and EOF still comes when the last one closes), sigacts and credentials copied, the
 * thread's signal mask and altstack kept, nothing pending, same pgid/sid, a new pid (= its tid).
 * Guest vmspaces (`proc.vkernel`) are not inherited.
 */
export function forkProcess(k: Kernel, lwp: Lwp, stack = 0): Process {
  const parent = lwp.proc;
  const pid = k.nextId++;
  const vm = parent.vm.fork();
  const child = new Process(
    pid,
    parent.pid,
    parent.pgid,
    parent.sid,
    [...parent.argv],
    [...parent.envp],
    parent.fds.fork(),
    vm,
    parent.exe,
  );
  child.comm = parent.comm;
  child.exeHash = parent.exeHash;
  child.cred = { ...parent.cred };
  parent.sigacts.forEach((act, sig) => {
    const slot = child.sigacts[sig];
    if (slot !== undefined) Object.assign(slot, { handler: act.handler, flags: act.flags, mask: act.mask });
  });
  k.procs.set(pid, child);
  const ctx = lwp.hart.getContext();
  ctx.pc = (ctx.pc + 4) >>> 0;
  ctx.x[10] = 0;
  if (stack !== 0) ctx.x[2] = stack >>> 0;
  let hart: LwpHart;
  if (lwp.hart instanceof NativeHart) {
    const native = new NativeHart(lwp.hart.program, structuredClone(lwp.hart.ctx), { pid, tid: pid, vm });
    native.started = lwp.hart.started;
    hart = native;
  } else {
    hart = k.createHart(vm);
  }
  hart.setContext(ctx);
  const thread = k.addLwp(child, hart, pid);
  thread.sigmask = lwp.sigmask;
  thread.altstack = { ...lwp.altstack };
  return child;
}

/** The children of `parent` that `idtype`/`id` select, in pid order. */
function selectChildren(k: Kernel, parent: Process, idtype: number, id: number): Process[] {
  const out: Process[] = [];
  for (const p of k.procs.values()) {
    if (p.ppid !== parent.pid || p === parent) continue;
    if (idtype === P_PID && p.pid !== id) continue;
    if (idtype === P_PGID && p.pgid !== id) continue;
    out.push(p);
  }
  return out.sort((x, y) => x.pid - y.pid);
}

/** The siginfo waitid reports (all zeros when WNOHANG found nothing). */
function waitInfo(child: Process | null): Uint8Array {
  const b = new Uint8Array(WAITID_SIGINFO_SIZE);
  if (child === null) return b;
  const v = new DataView(b.buffer);
  v.setInt32(0, SIGCHLD, true);
  v.setInt32(8, child.exitSignal === 0 ? CLD_EXITED : CLD_KILLED, true);
  v.setInt32(12, child.pid, true);
  v.setInt32(16, child.cred.uid, true);
  v.setInt32(20, child.exitSignal === 0 ? (child.exitStatus ?? 0) & 0xff : child.exitSignal, true);
  return b;
}

/**
 * waitid(idtype, id, siginfo*, options, rusage*) — the rv32 wait call (Linux rv32 has no wait4).
 * idtype P_ALL, P_PID (id > 0) or P_PGID (id 0 = the caller's group); options must include
 * WEXITED (stopped/continued children are never reported: WSTOPPED/WCONTINUED alone is -EINVAL).
 * Reports the lowest-pid exited child (si_signo SIGCHLD, si_code CLD_EXITED/CLD_KILLED, si_pid,
 * si_uid, si_status = exit code or signal) and reaps it unless WNOWAIT; rusage, if given, is
 * zeroed. No matching child: -ECHILD. None exited yet: with WNOHANG 0 and a zeroed siginfo,
 * otherwise it sleeps (restartable: -EINTR, or a restart under SA_RESTART, like read).
 */
export function sys_waitid(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [idtype, rawId, infoAddr, options, rusageAddr] = a as [number, number, number, number, number];
  const id = signed(rawId);
  const me = lwp.proc;
  if ((options & ~WAITID_OPTIONS) !== 0 || (options & WEXITED) === 0) return -EINVAL;
  let pgid = id;
  if (idtype === P_PID) {
    if (id <= 0) return -EINVAL;
  } else if (idtype === P_PGID) {
    if (id < 0) return -EINVAL;
    if (id === 0) pgid = me.pgid;
  } else if (idtype !== P_ALL) {
    return -EINVAL;
  }
  const children = selectChildren(k, me, idtype, idtype === P_PGID ? pgid : id);
  if (children.length === 0) return -ECHILD;
  const zombie = children.find((c) => c.state === "zombie") ?? null;
  if (zombie === null && (options & WNOHANG) === 0) return sleepOn(waitChannel(me.pid), null, "retry");
  if (infoAddr !== 0 && me.vm.copyout(infoAddr, waitInfo(zombie)) !== 0) return -EFAULT;
  if (zombie !== null && rusageAddr !== 0 && me.vm.copyout(rusageAddr, new Uint8Array(RUSAGE_SIZE)) !== 0) {
    return -EFAULT;
  }
  if (zombie !== null && (options & WNOWAIT) === 0) k.reapProcess(zombie);
  return 0;
}
