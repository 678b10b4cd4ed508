import type { FdTable } from "../fs/fd-table.ts";
import type { WaitChannel } from "../fs/file-types.ts";
import type { VmSpace } from "../vm/vm-space.ts";
import type { GuestVmspaceTable } from "../vm/vmspace-guest.ts";
import type { LwpHart } from "./proc-hart.ts";

/** One sigaction slot (the kernel's struct sigaction). */
export interface SigAction {
  handler: number;
  flags: number;
  mask: bigint;
}

/** Per-signal information kept while a signal is pending (becomes the frame's siginfo). */
export interface SigInfo {
  signo: number;
  code: number;
  /** si_addr for faults. */
  addr: number;
  /** si_pid / si_uid for kill/tgkill (and SIGCHLD: the child). */
  pid: number;
  uid: number;
  /** SIGCHLD only: si_status (the exit code, or the killing signal). */
  status?: number;
}

/** sigaltstack state (stack_t). */
export interface AltStack {
  sp: number;
  size: number;
  /** SS_DISABLE or 0 (SS_ONSTACK is computed from sp when read). */
  flags: number;
}

/**
 * How a sleeping LWP continues:
 * - "retry": re-execute the same syscall when woken (pc still at the ecall);
 * - "umtx": a wakeup completes the call with 0, the deadline with -ETIMEDOUT;
 * - "nanosleep": the deadline completes the call with 0.
 * A signal interrupts all three (EINTR, or a restart with SA_RESTART for "retry").
 */
export type SleepMode = "retry" | "umtx" | "nanosleep";

export type LwpState = "runnable" | "sleeping" | "stopped" | "zombie";

/** The syscall an LWP is blocked in (saved by a freeze so a thaw can restart it). */
export interface BlockedSyscall {
  nr: number;
  args: number[];
}

/** A light-weight process (thread). All state is in plain fields. */
export class Lwp {
  state: LwpState = "runnable";
  /** The CPU whose run queue it belongs to. */
  cpu: number;
  sigmask = 0n;
  pending = 0n;
  readonly pendingInfo = new Map<number, SigInfo>();
  altstack: AltStack = { sp: 0, size: 0, flags: 2 };
  /** Sleep: channel (null = only a deadline), virtual-ns deadline (null = none), mode. */
  wchan: WaitChannel | null = null;
  deadline: number | null = null;
  sleepMode: SleepMode = "retry";
  /** Set when a deadline woke a "retry" sleep: the handler sees it once and clears it. */
  timedOut = false;
  /** Set when a signal woke the LWP out of a sleep (pc is still at the ecall). */
  interrupted: SleepMode | null = null;
  syscall: BlockedSyscall | null = null;
  /** CLONE_CHILD_CLEARTID-like address (lwp_create's tid_addr), 0 = none. */
  tidAddr = 0;

  constructor(
    readonly tid: number,
    readonly proc: Process,
    readonly hart: LwpHart,
    cpu: number,
  ) {
    this.cpu = cpu;
  }
}

export type ProcState = "alive" | "zombie";

export interface Credentials {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
}

/** A process: identity, credentials, sigacts, descriptors, one vmspace, its LWPs. */
export class Process {
  state: ProcState = "alive";
  /** Job-control stop (SIGSTOP & co.) until SIGCONT. */
  stopped = false;
  /** Shell-style exit status (code & 0xff, or 128+signal) once a zombie. */
  exitStatus: number | null = null;
  /** The signal that killed it (0: it exited), for waitid's CLD_KILLED. */
  exitSignal = 0;
  /**
   * An orphan no process can reap (its init had exited): it does not keep `Kernel.run` going and
   * is removed as soon as it exits (src/syscall/sys-fork.ts).
   */
  autoReap = false;
  comm: string;
  cred: Credentials = { uid: 0, gid: 0, euid: 0, egid: 0 };
  /** sigacts[sig] for 1..64 (index 0 unused). */
  readonly sigacts: SigAction[] = Array.from({ length: 65 }, () => ({ handler: 0, flags: 0, mask: 0n }));
  /** Process-directed signals no LWP can take yet (all block them). */
  pending = 0n;
  readonly pendingInfo = new Map<number, SigInfo>();
  readonly lwps: Lwp[] = [];
  /** Path of the executable (or native program) and, for ELF programs, its bytes' SHA-256. */
  exe: string;
  exeHash = "";
  /**
   * Guest vmspaces made with vmspace_create (DragonFly's `p_vkernel`), null until the first one.
   * Host-only state: a freeze does not save it and a thaw starts without it.
   */
  vkernel: GuestVmspaceTable | null = null;

  constructor(
    readonly pid: number,
    public ppid: number,
    public pgid: number,
    public sid: number,
    readonly argv: string[],
    readonly envp: string[],
    readonly fds: FdTable,
    public vm: VmSpace,
    exe: string,
  ) {
    this.exe = exe;
    this.comm = (exe.split("/").pop() ?? exe).slice(0, 15);
  }

  liveLwps(): Lwp[] {
    return this.lwps.filter((l) => l.state !== "zombie");
  }
}
