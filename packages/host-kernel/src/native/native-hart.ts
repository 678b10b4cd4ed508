import { type HartContext, Stop } from "../cpu/cpu-types.ts";
import type { LwpHart } from "../proc/proc-hart.ts";
import {
  NATIVE_HANDLER_BASE,
  NATIVE_STEP_COST,
  type NativeEnv,
  type NativeEnvBase,
  type NativeProgram,
  type NativeThreadContext,
} from "./native-types.ts";

/** The fake pc of a native thread's "ecall"; the kernel moves pc to +4 when the call completes. */
export const NATIVE_ECALL_PC = 0x1000;

/**
 * Runs one native thread with the same register interface as a RISC-V hart: each `run` either
 * re-issues a syscall that has not completed (pc still on the fake ecall: it blocked and was
 * woken), or takes the finished call's result from a0, runs one step and issues its syscall.
 */
export class NativeHart implements LwpHart {
  readonly x = new Int32Array(32);
  pc = NATIVE_ECALL_PC + 4;
  retired = 0;
  readonly trapValue = 0;
  readonly fault = 0;
  /** True from the first step on (a0 then holds the result of a syscall). */
  started = false;

  /** What each step sees: the identity it was built with, and tp read live from x4. */
  readonly env: NativeEnv;

  constructor(
    readonly program: NativeProgram,
    readonly ctx: NativeThreadContext,
    env: NativeEnvBase,
  ) {
    const x = this.x;
    this.env = {
      pid: env.pid,
      tid: env.tid,
      vm: env.vm,
      get tp(): number {
        return (x[4] ?? 0) >>> 0;
      },
    };
  }

  run(_budget: number): Stop {
    if (this.pc === NATIVE_ECALL_PC) {
      this.retired = 0;
      return Stop.Ecall;
    }
    if (this.started) this.ctx.result = this.x[10] as number;
    this.started = true;
    const step = this.program.steps[this.ctx.role];
    if (step === undefined) throw new RangeError(`native program has no step for role ${this.ctx.role}`);
    const action = step(this.ctx, this.env);
    this.x[17] = action.syscall;
    const args = action.args ?? [];
    for (let i = 0; i < 6; i++) this.x[10 + i] = (args[i] ?? 0) | 0;
    this.pc = NATIVE_ECALL_PC;
    this.retired = NATIVE_STEP_COST;
    return Stop.Ecall;
  }

  /**
   * Enter the handler for `sig` (sa_handler `handler`): save the interrupted context (`ctx` is
   * the register file as delivery left it: pc on the ecall to restart, or past it with -EINTR)
   * and run the handler role. False when `handler` names no handler role.
   */
  pushSignal(
    handler: number,
    info: { signo: number; code: number; addr: number; pid: number },
    ctx: HartContext,
    oldMask: bigint,
  ): boolean {
    const role = this.program.handlerRoles?.[handler - NATIVE_HANDLER_BASE];
    if (role === undefined || this.program.steps[role] === undefined) return false;
    const frames = this.ctx.signalFrames ?? [];
    frames.push({
      role: this.ctx.role,
      state: this.ctx.state,
      result: this.ctx.result,
      started: this.started,
      x: [...ctx.x],
      pc: ctx.pc,
      mask: [Number(oldMask & 0xffff_ffffn), Number((oldMask >> 32n) & 0xffff_ffffn)],
    });
    this.ctx.signalFrames = frames;
    this.ctx.role = role;
    this.ctx.state = { signo: info.signo, code: info.code, addr: info.addr, pid: info.pid };
    this.ctx.result = info.signo;
    this.started = false;
    this.pc = NATIVE_ECALL_PC + 4;
    return true;
  }

  /** rt_sigreturn: restore the innermost interrupted context; its mask, or null without one. */
  popSignal(): bigint | null {
    const frame = this.ctx.signalFrames?.pop();
    if (frame === undefined) return null;
    if (this.ctx.signalFrames?.length === 0) delete this.ctx.signalFrames;
    this.ctx.role = frame.role;
    this.ctx.state = frame.state;
    this.ctx.result = frame.result;
    this.started = frame.started;
    this.setContext({ x: frame.x, pc: frame.pc });
    return BigInt(frame.mask[0] >>> 0) | (BigInt(frame.mask[1] >>> 0) << 32n);
  }

  getContext(): HartContext {
    return { x: Array.from(this.x, (v) => v >>> 0), pc: this.pc };
  }

  setContext(ctx: HartContext): void {
    for (let i = 0; i < 32; i++) this.x[i] = (ctx.x[i] ?? 0) | 0;
    this.pc = ctx.pc >>> 0;
  }
}
