import type { CborMap } from "@vkc/checkpoint";
import type { NativeAction, NativeEnv, NativeThreadContext } from "@vkc/host-kernel";

/**
 * The device seam (DESIGN.md §4.3): what a vkernel device backed by host descriptors (vke over a
 * host tap; vcons is the built-in one) provides, so a device lands in its own files without
 * touching the vCPU loop or the protocol. Each hook that needs host calls is a small state
 * machine returning one `NativeAction` per step (null when done), like the protocol itself.
 *
 * Not wired yet: the vkernel has no vke; `VkernelConfig.taps` is refused until one exists.
 */
export interface VkDevice {
  /** Stable name, e.g. "vke0"; the key of its section in the state. */
  readonly name: string;
  /** Boot-time host calls (open the tap, its ioctls); `step` counts from 0. */
  boot(env: NativeEnv, step: number, result: number): NativeAction | null;
  /** Cothread roles it needs (e.g. "vke0-rx", "vke0-tx"): created with the checkpoint signals blocked. */
  readonly cothreads: readonly {
    role: string;
    step(ctx: NativeThreadContext, env: NativeEnv): NativeAction;
  }[];
  /** Called by a vCPU before it steps the inner kernel: move ring contents into the inner kernel. */
  poll?(env: NativeEnv): void;
  /** Protocol step 5: drain and close what a host freeze cannot save; return its state. */
  quiesce(env: NativeEnv, step: number, result: number): NativeAction | null;
  /** Its state for the state region (queued frames are in vmspace0 rings already). */
  describe(): CborMap;
  /** Protocol step 7: reopen and reattach (after continue, or after a thaw from `state`). */
  reattach(env: NativeEnv, step: number, result: number, state: CborMap | null): NativeAction | null;
}
