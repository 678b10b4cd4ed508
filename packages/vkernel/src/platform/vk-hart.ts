import {
  Fault,
  type HartContext,
  type LwpHart,
  SIGCODE_ADDR,
  Stop,
  signals,
  syscalls,
  VMTRAP_BREAKPOINT,
  VMTRAP_FAULT,
  VMTRAP_ILLEGAL,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
  type VmSpace,
} from "@vkc/host-kernel";

/** What a vmspace_ctl run of this LWP ended with (the frame's trailer), not yet seen by the kernel. */
export interface PendingTrap {
  /** A VMTRAP_* cause, or 0: a fault the pmap resolved (re-run). */
  cause: number;
  value: number;
  signo: number;
  code: number;
  /** Guest instructions retired by the run (frame word 152, H3). */
  retired: number;
  /** The pc the trap was loaded with: if the kernel changed it since (a signal), the trap is dropped. */
  pc: number;
}

/**
 * The hart of one guest LWP of the inner kernel (DESIGN.md §1.3). It holds the registers like any
 * hart but never executes: guest code runs on the host inside vmspace_ctl(RUN), issued by the vCPU
 * that sees `wantsRun`. `run` either reports the trap the last host run ended with (as the Stop an
 * interpreter would have returned) or asks the vCPU to run the guest and reports nothing retired.
 */
export class VkHart implements LwpHart {
  readonly x = new Int32Array(32);
  pc = 0;
  retired = 0;
  trapValue = 0;
  fault = 0;
  /** Set by `run` when the guest must run on the host, with at most `budget` instructions. */
  wantsRun = false;
  budget = 0;
  pendingTrap: PendingTrap | null = null;
  /** Guest instructions retired by this LWP so far (debugging aid, like a hart's `instret`). */
  instret = 0;
  /**
   * True until the next guest run once the registers were (re)loaded (a new LWP, a signal, a
   * sigreturn): that run drops the LR reservation, as `Hart.setContext` does on the host.
   */
  contextReloaded = true;

  constructor(readonly vm: VmSpace) {}

  run(budget: number): Stop {
    const t = this.pendingTrap;
    this.pendingTrap = null;
    if (t !== null && t.pc === this.pc) {
      this.wantsRun = false;
      this.retired = t.retired;
      const stop = this.stopFor(t);
      this.instret += this.retired;
      return stop;
    }
    this.wantsRun = true;
    this.budget = budget;
    this.retired = 0;
    return Stop.Budget;
  }

  private stopFor(t: PendingTrap): Stop {
    switch (t.cause) {
      case VMTRAP_SYSCALL:
        return Stop.Ecall;
      case VMTRAP_FAULT:
        // A return into the sigcode page (outside the guest window): it is `li a7, 139; ecall`.
        if (t.value === SIGCODE_ADDR && this.pc === SIGCODE_ADDR) {
          this.x[17] = syscalls.SYS_rt_sigreturn;
          this.pc = SIGCODE_ADDR + 4;
          this.retired += 1;
          return Stop.Ecall;
        }
        this.trapValue = t.value;
        if (t.signo === signals.SIGBUS && t.code === signals.BUS_ADRALN) return Stop.Misaligned;
        this.fault =
          t.signo === signals.SIGBUS
            ? Fault.BusError
            : t.code === signals.SEGV_ACCERR
              ? Fault.AccessError
              : Fault.MapError;
        return Stop.MemoryFault;
      case VMTRAP_ILLEGAL:
        this.trapValue = t.value;
        return Stop.Illegal;
      case VMTRAP_BREAKPOINT:
        return Stop.Ebreak;
      case VMTRAP_SLICE:
        return Stop.Budget;
      default:
        return Stop.Budget;
    }
  }

  getContext(): HartContext {
    return { x: Array.from(this.x, (v) => v >>> 0), pc: this.pc };
  }

  setContext(ctx: HartContext): void {
    for (let i = 0; i < 32; i++) this.x[i] = (ctx.x[i] ?? 0) | 0;
    this.x[0] = 0;
    this.pc = ctx.pc >>> 0;
    this.pendingTrap = null;
    this.contextReloaded = true;
  }
}
