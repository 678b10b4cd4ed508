import { NativeHart } from "../native/native-hart.ts";
import type { Lwp, Process, SigInfo } from "../proc/proc-types.ts";
import { EINTR } from "../syscall/errno.ts";
import { SIGCODE_ADDR } from "../vm/vm-types.ts";
import { onCheckpointSignal } from "./signal-ckpt-hook.ts";
import {
  altStackFlags,
  decodeUcontext,
  encodeFrame,
  FRAME_SIZE,
  frameAddress,
  SIGINFO_SIZE,
} from "./signal-frame.ts";
import {
  CANTMASK,
  defaultAction,
  MINSIGSTKSZ,
  NSIG,
  SA_NODEFER,
  SA_ONSTACK,
  SA_RESETHAND,
  SA_RESTART,
  SEGV_MAPERR,
  SI_KERNEL,
  SIG_DFL,
  SIG_IGN,
  SIGKILL,
  SIGSEGV,
  SIGSTOP,
  SS_DISABLE,
  SS_ONSTACK,
  sigbit,
} from "./signal-numbers.ts";
import { forceSignal, type SignalKernel } from "./signal-post.ts";

/** What delivery needs from the kernel. */
export interface DeliverKernel extends SignalKernel {
  /** `signal`: the signal that killed it (waitid reports CLD_KILLED). */
  exitProcess(proc: Process, status: number, signal?: number): void;
  stopProcess(proc: Process): void;
}

export type DeliverOutcome = "run" | "dead" | "stopped";

function lowestSignal(set: bigint): number {
  if ((set & sigbit(SIGKILL)) !== 0n) return SIGKILL;
  for (let s = 1; s <= NSIG; s++) if ((set & sigbit(s)) !== 0n) return s;
  return 0;
}

/** Remove `sig` from the LWP's or the process's pending set and return its info. */
function dequeue(lwp: Lwp, sig: number): SigInfo {
  const bit = sigbit(sig);
  const from = (lwp.pending & bit) !== 0n ? lwp : lwp.proc;
  from.pending &= ~bit;
  const info = from.pendingInfo.get(sig) ?? { signo: sig, code: SI_KERNEL, addr: 0, pid: 0, uid: 0 };
  from.pendingInfo.delete(sig);
  return info;
}

/**
 * Deliver what is pending for `lwp` before it returns to user mode (like Linux's do_signal):
 * default actions happen here, and at most one handler frame is pushed. A syscall the LWP was
 * sleeping in when a signal woke it is completed with -EINTR, or restarted (pc stays on the ecall)
 * when the handler has SA_RESTART and the call is restartable, or when no handler ran.
 */
export function deliverSignals(k: DeliverKernel, lwp: Lwp): DeliverOutcome {
  const proc = lwp.proc;
  for (;;) {
    const deliverable = (lwp.pending | proc.pending) & ~(lwp.sigmask & ~CANTMASK);
    if (deliverable === 0n) break;
    const sig = lowestSignal(deliverable);
    const info = dequeue(lwp, sig);
    const act = proc.sigacts[sig];
    if (act === undefined) continue;
    const catchable = sig !== SIGKILL && sig !== SIGSTOP;
    if (catchable && act.handler === SIG_IGN) continue;
    if (!catchable || act.handler === SIG_DFL) {
      let action = defaultAction(sig);
      if (action === "checkpoint") {
        const hook = onCheckpointSignal(proc, lwp, sig, k);
        if (hook !== "terminate") continue;
        action = "terminate";
      }
      switch (action) {
        case "ignore":
        case "continue":
          continue;
        case "stop":
          k.stopProcess(proc);
          return "stopped";
        default:
          k.exitProcess(proc, 128 + sig, sig);
          return "dead";
      }
    }
    if (!pushFrame(lwp, sig, info)) {
      k.exitProcess(proc, 128 + SIGSEGV, SIGSEGV);
      return "dead";
    }
    return "run";
  }
  // Woken by a signal that needed no handler: restart the call (pc is still on the ecall).
  lwp.interrupted = null;
  return "run";
}

/** Build the rt_sigframe and enter the handler. False when the stack is not writable. */
function pushFrame(lwp: Lwp, sig: number, info: SigInfo): boolean {
  const proc = lwp.proc;
  const act = proc.sigacts[sig];
  if (act === undefined) return false;
  const ctx = lwp.hart.getContext();
  if (lwp.interrupted !== null) {
    if (!(lwp.interrupted === "retry" && (act.flags & SA_RESTART) !== 0)) {
      ctx.x[10] = -EINTR >>> 0;
      ctx.pc = (ctx.pc + 4) >>> 0;
    }
    lwp.interrupted = null;
  }
  const handler = act.handler;
  const native = lwp.hart instanceof NativeHart ? lwp.hart : null;
  let frame = 0;
  if (native !== null) {
    // A native thread's handler is a role of its program; the interrupted context is kept in
    // its (plain-data) thread context instead of on a user stack.
    if (!native.pushSignal(handler, info, ctx, lwp.sigmask)) return false;
  } else {
    frame = frameAddress(ctx.x[2] ?? 0, act, lwp.altstack, SA_ONSTACK);
    const bytes = encodeFrame(info, ctx, lwp.sigmask, lwp.altstack);
    if (proc.vm.copyout(frame, bytes) !== 0) return false;
  }
  lwp.sigmask = (lwp.sigmask | act.mask | ((act.flags & SA_NODEFER) !== 0 ? 0n : sigbit(sig))) & ~CANTMASK;
  if ((act.flags & SA_RESETHAND) !== 0) {
    act.handler = SIG_DFL;
    act.flags &= ~SA_RESETHAND;
  }
  if (native !== null) return true;
  const h = lwp.hart;
  h.setContext(ctx);
  h.x[10] = sig;
  h.x[11] = frame | 0;
  h.x[12] = (frame + SIGINFO_SIZE) | 0;
  h.x[2] = frame | 0;
  h.x[1] = SIGCODE_ADDR | 0;
  h.pc = handler >>> 0;
  return true;
}

/**
 * rt_sigreturn: restore registers and mask from the ucontext at sp (the handler may have edited
 * them). A bad frame is a SIGSEGV.
 */
export function sigreturn(k: DeliverKernel, lwp: Lwp): void {
  if (lwp.hart instanceof NativeHart) {
    const mask = lwp.hart.popSignal();
    if (mask !== null) lwp.sigmask = mask & ~CANTMASK;
    else forceSignal(k, lwp, SIGSEGV, { signo: SIGSEGV, code: SEGV_MAPERR, addr: 0, pid: 0, uid: 0 });
    return;
  }
  const frame = lwp.hart.x[2]! >>> 0;
  const uc = lwp.proc.vm.copyin(frame + SIGINFO_SIZE, FRAME_SIZE - SIGINFO_SIZE);
  if (typeof uc === "number") {
    forceSignal(k, lwp, SIGSEGV, { signo: SIGSEGV, code: SEGV_MAPERR, addr: frame, pid: 0, uid: 0 });
    return;
  }
  const { ctx, mask, stack } = decodeUcontext(uc);
  lwp.hart.setContext(ctx);
  lwp.sigmask = mask & ~CANTMASK;
  // Like Linux's restore_altstack: uc_stack becomes the altstack again, unless the restored code
  // runs on the current altstack; an invalid setting is ignored.
  if (altStackFlags(lwp.altstack, ctx.x[2] ?? 0) !== SS_ONSTACK) {
    if ((stack.flags & SS_DISABLE) !== 0) lwp.altstack = { sp: 0, size: 0, flags: SS_DISABLE };
    else if (stack.size >= MINSIGSTKSZ) lwp.altstack = { sp: stack.sp, size: stack.size, flags: 0 };
  }
}
