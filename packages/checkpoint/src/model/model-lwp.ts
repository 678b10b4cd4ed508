import type { CborMap, SigSet } from "./model-values.ts";

/** Number of saved registers per LWP: x0..x31 then pc. `tp` is x4. */
export const LWP_REG_COUNT = 33;
export const REG_PC = 32;
export const REG_TP = 4;

export interface AltStackImage {
  readonly sp: number;
  readonly size: number;
  readonly flags: number;
}

/** What an LWP was doing when frozen. */
export type LwpState =
  | { readonly kind: "runnable" }
  /** The thread has exited; its process lives on (format 1.1). Kept so a thaw rebuilds it exactly. */
  | { readonly kind: "exited" }
  /** In `umtx_sleep` on `addr`; `deadlineNs` is the virtual-clock deadline, absent for no timeout. */
  | { readonly kind: "sleeping"; readonly addr: number; readonly deadlineNs?: number }
  /**
   * Inside blocking syscall `number` with `args` (a0..a5). On thaw: `restart` re-issues the call,
   * `eintr` makes it return -EINTR, `resume` keeps waiting for the same event.
   */
  | {
      readonly kind: "syscall";
      readonly number: number;
      readonly args: readonly number[];
      readonly restart: "restart" | "eintr" | "resume";
    };

export interface LwpImage {
  /** Thread id, restored as is (libthread caches it). */
  readonly tid: number;
  /** `LWP_REG_COUNT` u32: x0..x31 then pc. */
  readonly regs: readonly number[];
  readonly sigmask: SigSet;
  readonly pending: SigSet;
  readonly altstack: AltStackImage;
  readonly state: LwpState;
  /** For threads of native (TypeScript) programs: their role and step state. */
  readonly native?: CborMap;
  readonly extensions?: CborMap;
}
