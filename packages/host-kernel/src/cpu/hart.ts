import type { Fault, HartContext, MemoryTranslator, Stop } from "./cpu-types.ts";
import { execute } from "./execute.ts";
import { SoftTlb } from "./tlb.ts";

/**
 * Defaults for new harts. Basic-block translation is on; the machine's own tests switch it off
 * (src/cpu/test-memory.ts) and run the suite a second time with it on (jit-equivalence.test.ts).
 */
export const hartDefaults = { jit: true, jitThreshold: 16 };

/**
 * One RV32IMA hart running user code: the register file, the pc, and a software TLB over the
 * `MemoryTranslator` of its address space. The kernel gives each LWP a hart and calls `run`.
 */
export class Hart {
  /**
   * x0..x31 plus a sink (index 32) that the interpreter writes when an instruction targets x0.
   * Use `x` from outside.
   */
  readonly regs: Int32Array = new Int32Array(33);
  /** x0..x31 (x0 reads as 0: the interpreter clears it at the start of every run). */
  readonly x: Int32Array = this.regs.subarray(0, 32);
  /** The next instruction (an unsigned 32-bit address). */
  pc = 0;
  /** Instructions retired by the last `run`. */
  retired = 0;
  /** Instructions retired since this hart was made (the value of `instret`/`cycle`/`time`). */
  instret = 0;
  /** After Stop.Illegal: the instruction bits; after MemoryFault or Misaligned: the address. */
  trapValue = 0;
  /** After Stop.MemoryFault: the kind of fault; 0 otherwise. */
  fault: Fault | 0 = 0;
  /** When true, the PAUSE hint (`fence w,0`) retires and returns Stop.Yield. */
  yieldOnPause = false;
  /** Translate hot code regions to JavaScript (jit.ts); the interpreter remains the fallback. */
  jit = hartDefaults.jit;
  /** How many times the interpreter reaches an instruction before its block is translated. */
  jitThreshold = hartDefaults.jitThreshold;
  readonly tlb: SoftTlb;

  constructor(mem: MemoryTranslator, context?: HartContext) {
    this.tlb = new SoftTlb(mem);
    if (context !== undefined) this.setContext(context);
  }

  /** The address space. Setting it drops this hart's LR reservation and flushes the TLB. */
  get mem(): MemoryTranslator {
    return this.tlb.mem;
  }

  set mem(mem: MemoryTranslator) {
    this.tlb.mem.reservations.clear(this);
    this.tlb.setMemory(mem);
  }

  /**
   * Retire at most `budget` instructions and say why it stopped (see `Stop`). A trapping
   * instruction is not retired and `pc` stays on it; `retired` and `instret` count the rest.
   */
  run(budget: number): Stop {
    return execute(this, budget);
  }

  flushTlb(): void {
    this.tlb.flush();
  }

  getContext(): HartContext {
    const x: number[] = new Array<number>(32);
    for (let i = 0; i < 32; i++) x[i] = this.x[i]! >>> 0;
    x[0] = 0;
    return { x, pc: this.pc >>> 0 };
  }

  /** Load a saved register file. Any LR reservation the hart held is dropped. */
  setContext(context: HartContext): void {
    if (context.x.length !== 32) {
      throw new RangeError(`hart context has ${context.x.length} registers, expected 32`);
    }
    for (let i = 0; i < 32; i++) this.x[i] = context.x[i]! | 0;
    this.x[0] = 0;
    this.pc = context.pc >>> 0;
    this.tlb.mem.reservations.clear(this);
  }
}
