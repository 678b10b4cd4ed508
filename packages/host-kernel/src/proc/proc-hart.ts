import type { HartContext, Stop } from "../cpu/cpu-types.ts";

/**
 * What the kernel needs from the thing that executes one LWP: the machine's `Hart` (src/cpu) for
 * RISC-V code, or a `NativeHart` (src/native) for a native program's TypeScript thread. Both
 * expose the same registers, so syscalls and signals work the same way for both.
 */
export interface LwpHart {
  /** x0..x31 (signed view; write with `| 0`). */
  readonly x: Int32Array;
  pc: number;
  /** Execute at most `budget` instructions. A trapping instruction is not retired. */
  run(budget: number): Stop;
  /** Instructions retired by the last `run`. */
  readonly retired: number;
  /** Address or instruction bits for Illegal/MemoryFault/Misaligned stops. */
  readonly trapValue: number;
  /** Fault kind (cpu-types `Fault`) of the last MemoryFault stop, 0 otherwise. */
  readonly fault: number;
  getContext(): HartContext;
  setContext(ctx: HartContext): void;
}
