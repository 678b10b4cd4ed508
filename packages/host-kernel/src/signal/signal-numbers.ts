/** Signal numbers (Linux 1..31, plus DragonFly's SIGCKPT/SIGCKPTEXIT/SIGTHAW). */
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
export const SIGCKPT = 33;
export const SIGCKPTEXIT = 34;
export const SIGTHAW = 35;
export const NSIG = 64;

/** sigaction flags and special handlers (Linux values). */
export const SA_SIGINFO = 4;
export const SA_ONSTACK = 0x0800_0000;
export const SA_RESTART = 0x1000_0000;
export const SA_NODEFER = 0x4000_0000;
export const SA_RESETHAND = 0x8000_0000;
export const SIG_DFL = 0;
export const SIG_IGN = 1;

/** sigprocmask `how`. */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/** sigaltstack flags. */
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const MINSIGSTKSZ = 2048;

/** si_code values. */
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_TKILL = -6;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const ILL_ILLOPC = 1;
export const TRAP_BRKPT = 1;

/** The bit of signal `sig` in a 64-bit sigset (bit n-1 for signal n). */
export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

export const SIGSET_ALL = (1n << 64n) - 1n;
/** SIGKILL and SIGSTOP can never be blocked, caught or ignored. */
export const CANTMASK = sigbit(SIGKILL) | sigbit(SIGSTOP);

export type DefaultAction = "terminate" | "core" | "ignore" | "stop" | "continue" | "checkpoint";

/** The default action of `sig` (before the checkpoint hook is asked about SIGCKPT*). */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return "core";
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return "ignore";
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return "stop";
    case SIGCONT:
      return "continue";
    case SIGCKPT:
    case SIGCKPTEXIT:
    case SIGTHAW:
      return "checkpoint";
    default:
      return "terminate";
  }
}
