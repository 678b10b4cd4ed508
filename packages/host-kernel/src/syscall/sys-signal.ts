import type { Kernel } from "../kernel.ts";
import type { Lwp, Process, SigInfo } from "../proc/proc-types.ts";
import { sigreturn } from "../signal/signal-deliver.ts";
import { altStackFlags } from "../signal/signal-frame.ts";
import {
  CANTMASK,
  MINSIGSTKSZ,
  NSIG,
  SI_TKILL,
  SI_USER,
  SIG_BLOCK,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGKILL,
  SIGSTOP,
  SS_DISABLE,
  SS_ONSTACK,
  sigbit,
} from "../signal/signal-numbers.ts";
import { EFAULT, EINVAL, ENOMEM, EPERM, ESRCH } from "./errno.ts";
import { JUSTRETURN, type SyscallArgs, type SyscallResult } from "./syscall-types.ts";

const SIGSET_SIZE = 8;

function readSigset(b: Uint8Array, at: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true);
}

/** rt_sigaction(sig, act*, oact*, 8) with struct { u32 handler; u32 flags; u32 mask[2] }. */
export function sys_rt_sigaction(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [sig, actAddr, oactAddr, setsize] = a as [number, number, number, number];
  if (setsize !== SIGSET_SIZE || sig < 1 || sig > NSIG) return -EINVAL;
  const proc = lwp.proc;
  const slot = proc.sigacts[sig];
  if (slot === undefined) return -EINVAL;
  let next: { handler: number; flags: number; mask: bigint } | null = null;
  if (actAddr !== 0) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = proc.vm.copyin(actAddr, 16);
    if (typeof b === "number") return -EFAULT;
    const v = new DataView(b.buffer);
    next = { handler: v.getUint32(0, true), flags: v.getUint32(4, true), mask: readSigset(b, 8) & ~CANTMASK };
  }
  if (oactAddr !== 0) {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint32(0, slot.handler >>> 0, true);
    v.setUint32(4, slot.flags >>> 0, true);
    v.setBigUint64(8, slot.mask, true);
    if (proc.vm.copyout(oactAddr, b) !== 0) return -EFAULT;
  }
  if (next !== null) {
    slot.handler = next.handler;
    slot.flags = next.flags;
    slot.mask = next.mask;
    // POSIX: setting a signal to be ignored discards it where pending.
    if (k.signalIgnored(proc, sig)) discardPending(proc, sig);
  }
  return 0;
}

function discardPending(proc: Process, sig: number): void {
  const bit = sigbit(sig);
  proc.pending &= ~bit;
  proc.pendingInfo.delete(sig);
  for (const l of proc.lwps) {
    l.pending &= ~bit;
    l.pendingInfo.delete(sig);
  }
}

/** rt_sigprocmask(how, set*, oset*, 8). SIGKILL and SIGSTOP stay unblocked. */
export function sys_rt_sigprocmask(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [how, setAddr, osetAddr, setsize] = a as [number, number, number, number];
  if (setsize !== SIGSET_SIZE) return -EINVAL;
  const vm = lwp.proc.vm;
  let set: bigint | null = null;
  if (setAddr !== 0) {
    if (how !== SIG_BLOCK && how !== SIG_UNBLOCK && how !== SIG_SETMASK) return -EINVAL;
    const b = vm.copyin(setAddr, 8);
    if (typeof b === "number") return -EFAULT;
    set = readSigset(b, 0);
  }
  if (osetAddr !== 0) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, lwp.sigmask, true);
    if (vm.copyout(osetAddr, b) !== 0) return -EFAULT;
  }
  if (set !== null) {
    const mask = how === SIG_BLOCK ? lwp.sigmask | set : how === SIG_UNBLOCK ? lwp.sigmask & ~set : set;
    lwp.sigmask = mask & ~CANTMASK;
  }
  return 0;
}

/** sigaltstack(ss*, old*) with stack_t { u32 ss_sp; i32 ss_flags; u32 ss_size }. */
export function sys_sigaltstack(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [ssAddr, oldAddr] = a as [number, number];
  const vm = lwp.proc.vm;
  const sp = lwp.hart.x[2] as number;
  const current = altStackFlags(lwp.altstack, sp);
  let next: { sp: number; flags: number; size: number } | null = null;
  if (ssAddr !== 0) {
    const b = vm.copyin(ssAddr, 12);
    if (typeof b === "number") return -EFAULT;
    const v = new DataView(b.buffer);
    const flags = v.getInt32(4, true);
    if (flags !== 0 && flags !== SS_DISABLE && flags !== SS_ONSTACK) return -EINVAL;
    if (current === SS_ONSTACK) return -EPERM;
    const size = v.getUint32(8, true);
    if (flags === SS_DISABLE) next = { sp: 0, flags: SS_DISABLE, size: 0 };
    else if (size < MINSIGSTKSZ) return -ENOMEM;
    else next = { sp: v.getUint32(0, true), flags: 0, size };
  }
  if (oldAddr !== 0) {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setUint32(0, lwp.altstack.sp >>> 0, true);
    v.setInt32(4, current, true);
    v.setUint32(8, lwp.altstack.size >>> 0, true);
    if (vm.copyout(oldAddr, b) !== 0) return -EFAULT;
  }
  if (next !== null) lwp.altstack = next;
  return 0;
}

export function sys_rt_sigreturn(k: Kernel, lwp: Lwp): SyscallResult {
  sigreturn(k, lwp);
  return JUSTRETURN;
}

/** kill(pid, sig): pid > 0 one process, 0 the caller's group, -1 all others, < -1 group -pid. */
export function sys_kill(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const pid = (a[0] as number) | 0;
  const sig = (a[1] as number) | 0;
  if (sig < 0 || sig > NSIG) return -EINVAL;
  const me = lwp.proc;
  const info: SigInfo = { signo: sig, code: SI_USER, addr: 0, pid: me.pid, uid: me.cred.uid };
  let targets: Process[];
  if (pid > 0) {
    const p = k.procs.get(pid);
    targets = p === undefined ? [] : [p];
  } else if (pid === 0) {
    targets = [...k.procs.values()].filter((p) => p.pgid === me.pgid);
  } else if (pid === -1) {
    targets = [...k.procs.values()].filter((p) => p !== me && p.pid !== k.initPid);
  } else {
    targets = [...k.procs.values()].filter((p) => p.pgid === -pid);
  }
  if (targets.length === 0) return -ESRCH;
  if (sig !== 0) for (const p of targets) k.postSignal(p, sig, info);
  return 0;
}

/** tgkill(tgid, tid, sig): a thread-directed signal. */
export function sys_tgkill(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const tgid = (a[0] as number) | 0;
  const tid = (a[1] as number) | 0;
  const sig = (a[2] as number) | 0;
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > NSIG) return -EINVAL;
  const target = k.lwps.get(tid);
  if (target === undefined || target.proc.pid !== tgid || target.state === "zombie") return -ESRCH;
  if (sig === 0) return 0;
  const me = lwp.proc;
  k.postSignalLwp(target, sig, { signo: sig, code: SI_TKILL, addr: 0, pid: me.pid, uid: me.cred.uid });
  return 0;
}
