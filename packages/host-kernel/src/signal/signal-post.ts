import type { Lwp, Process, SigInfo } from "../proc/proc-types.ts";
import { checkpointSignalIgnoredAtPost, takeCheckpointSignal } from "./signal-ckpt-hook.ts";
import {
  defaultAction,
  SIG_DFL,
  SIG_IGN,
  SIGCONT,
  SIGKILL,
  SIGSTOP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
  sigbit,
} from "./signal-numbers.ts";

/** What posting needs from the kernel (wakeups and the run queues). */
export interface SignalKernel {
  /** Take a sleeping LWP off its sleep queue and make it runnable as "interrupted". */
  interruptSleep(lwp: Lwp): void;
  /** Make every job-control-stopped LWP of `proc` runnable again. */
  continueProcess(proc: Process): void;
}

const STOP_SIGNALS = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

/** True when delivering `sig` to `proc` now would do nothing (it may be discarded at post). */
export function signalIgnored(proc: Process, sig: number): boolean {
  if (sig === SIGKILL || sig === SIGSTOP) return false;
  const act = proc.sigacts[sig];
  if (act === undefined) return true;
  if (act.handler === SIG_IGN) return true;
  if (act.handler !== SIG_DFL) return false;
  const d = defaultAction(sig);
  if (d === "ignore") return true;
  if (d === "checkpoint") return checkpointSignalIgnoredAtPost(sig);
  return false;
}

/** Job-control side effects that happen at post time (like Linux's prepare_signal). */
function preparePost(k: SignalKernel, proc: Process, sig: number): void {
  if (sig === SIGCONT || sig === SIGKILL) {
    for (const l of proc.lwps) {
      l.pending &= ~STOP_SIGNALS;
      for (const s of [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]) l.pendingInfo.delete(s);
    }
    proc.pending &= ~STOP_SIGNALS;
    if (proc.stopped) {
      proc.stopped = false;
      k.continueProcess(proc);
    }
  } else if ((sigbit(sig) & STOP_SIGNALS) !== 0n) {
    for (const l of proc.lwps) l.pending &= ~sigbit(SIGCONT);
    proc.pending &= ~sigbit(SIGCONT);
  }
}

/** Wake `lwp` for a newly pending signal it does not block. */
function signalWake(k: SignalKernel, lwp: Lwp): void {
  if (lwp.state === "sleeping") k.interruptSleep(lwp);
}

/** Post a thread-directed signal (tgkill, faults, SIGPIPE). False if the target is gone. */
export function postToLwp(k: SignalKernel, lwp: Lwp, sig: number, info: SigInfo): boolean {
  const proc = lwp.proc;
  if (proc.state !== "alive" || lwp.state === "zombie") return false;
  preparePost(k, proc, sig);
  const bit = sigbit(sig);
  if ((lwp.sigmask & bit) === 0n && takeCheckpointSignal(k, proc, sig)) return true;
  if ((lwp.sigmask & bit) === 0n && signalIgnored(proc, sig)) return true;
  lwp.pending |= bit;
  if (!lwp.pendingInfo.has(sig)) lwp.pendingInfo.set(sig, info);
  if ((lwp.sigmask & bit) === 0n) signalWake(k, lwp);
  return true;
}

/**
 * Post a process-directed signal (kill, tty). It stays in the process's pending set until an LWP
 * that does not block it takes it; the first such LWP in tid order (the main thread first) is
 * woken, so the choice is deterministic.
 */
export function postToProcess(k: SignalKernel, proc: Process, sig: number, info: SigInfo): boolean {
  if (proc.state !== "alive") return false;
  preparePost(k, proc, sig);
  const bit = sigbit(sig);
  const live = proc.liveLwps();
  const target = live.find((l) => (l.sigmask & bit) === 0n);
  if (target !== undefined && takeCheckpointSignal(k, proc, sig)) return true;
  if (target === undefined && signalIgnored(proc, sig)) return true;
  if (target !== undefined && signalIgnored(proc, sig)) return true;
  proc.pending |= bit;
  if (!proc.pendingInfo.has(sig)) proc.pendingInfo.set(sig, info);
  if (target !== undefined) signalWake(k, target);
  if (sig === SIGKILL) for (const l of live) signalWake(k, l);
  return true;
}

/**
 * A synchronous fault: the signal cannot be blocked or ignored (if it is, the action is reset to
 * the default and it is unblocked, like Linux's force_sig).
 */
export function forceSignal(k: SignalKernel, lwp: Lwp, sig: number, info: SigInfo): void {
  const proc = lwp.proc;
  const act = proc.sigacts[sig];
  const bit = sigbit(sig);
  if (act !== undefined && (act.handler === SIG_IGN || (lwp.sigmask & bit) !== 0n)) {
    act.handler = SIG_DFL;
    lwp.sigmask &= ~bit;
  }
  postToLwp(k, lwp, sig, info);
}
