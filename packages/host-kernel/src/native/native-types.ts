import type { VmSpace } from "../vm/vm-space.ts";

/**
 * The plain-data context of one native thread, saved like registers: which step function it runs
 * (`role`), its own state (JSON-like data only), and the result of its last syscall.
 */
export interface NativeThreadContext {
  role: string;
  state: NativeState;
  /** a0 of the last completed syscall (the first step sees the lwp_create `arg`, or 0). */
  result: number;
  /** Interrupted contexts while signal handlers run, innermost last (see NativeHart.pushSignal). */
  signalFrames?: NativeSignalFrame[];
}

/** What a native signal handler interrupted: restored by rt_sigreturn. Plain data. */
export interface NativeSignalFrame {
  role: string;
  state: NativeState;
  result: number;
  started: boolean;
  /** x0..x31 (unsigned) and pc at delivery (pc on the fake ecall = restart the call). */
  x: number[];
  pc: number;
  /** The signal mask to restore, as [low 32 bits, high 32 bits]. */
  mask: [number, number];
}

/**
 * sa_handler values of a native program: NATIVE_HANDLER_BASE + i runs role `handlerRoles[i]`.
 * The handler's first step sees `ctx.result` = the signal number and `ctx.state` =
 * { signo, code, addr, pid }; it ends with the rt_sigreturn syscall.
 */
export const NATIVE_HANDLER_BASE = 0x1000;

export type NativeState = null | boolean | number | string | NativeState[] | { [key: string]: NativeState };

/** What a step asks for next: one host syscall (number + up to six arguments). */
export interface NativeAction {
  readonly syscall: number;
  readonly args?: readonly number[];
}

/** What a step can reach besides syscalls: its process's memory and its own tp. */
export interface NativeEnv {
  readonly pid: number;
  readonly tid: number;
  readonly vm: VmSpace;
  /**
   * The thread's tp register (x4, unsigned), read-only: lwp_create's `tls` argument for a thread
   * it started, 0 for the main thread. Saved and restored with the registers, so a thawed thread
   * sees the same value (the vkernel's `mycpu`, as DragonFly's `gd` through `%gs`).
   */
  readonly tp: number;
}

/** The identity part of `NativeEnv` a `NativeHart` is built with (tp is read from its registers). */
export type NativeEnvBase = Omit<NativeEnv, "tp">;

/**
 * A step function: look at `ctx` (including `ctx.result`), update `ctx.state`/`ctx.role`, and
 * return the next syscall. Exiting is the exit/exit_group syscall; yielding is sched_yield.
 * Steps must be deterministic functions of ctx and memory.
 */
export type NativeStep = (ctx: NativeThreadContext, env: NativeEnv) => NativeAction;

/**
 * A native program, registered by path (e.g. `/boot/vkernel`). `main` is the role of the first
 * thread. lwp_create(entry, stack, tls, arg, tid_addr) in a native process starts a thread whose
 * role is `threadRoles[entry]`, with `ctx.result = arg` and `ctx.state = null`.
 */
export interface NativeProgram {
  readonly steps: Readonly<Record<string, NativeStep>>;
  readonly main: string;
  /** lwp_create's `entry` indexes this list. */
  readonly threadRoles?: readonly string[];
  /** The state of the first thread (default null). */
  readonly initialState?: NativeState;
  /** Signal handler roles (see NATIVE_HANDLER_BASE). */
  readonly handlerRoles?: readonly string[];
}

/** Virtual instructions one native step costs (1 step = 1 ns of virtual time). */
export const NATIVE_STEP_COST = 1;
