import type { WriteStats } from "@vkc/checkpoint";
import type { Kernel } from "../kernel.ts";
import type { PrecopyStats } from "./ckpt-precopy.ts";

/** sys_checkpoint(type, ...) types (DragonFly `sys/checkpoint.h`). */
export const CKPT_FREEZE = 1;
export const CKPT_THAW = 2;

/** Why a checkpoint is taken. */
export type CheckpointCause = "syscall" | "sigckpt" | "sigckptexit" | "host";

/** A checkpoint the run loop must take between slices (see `serviceCheckpoints`). */
export interface CheckpointRequest {
  readonly pid: number;
  /** The LWP sitting on the ecall of sys_checkpoint(FREEZE): it gets the result in a0. */
  readonly callerTid: number | null;
  readonly cause: CheckpointCause;
}

/** What one written checkpoint produced. */
export interface CheckpointWritten {
  readonly id: string;
  readonly pid: number;
  /** The previous image of the same process in this run (the image is incremental over it). */
  readonly parent: string | null;
  /** Kernel instruction count (virtual time) at the checkpoint. */
  readonly instructions: number;
  readonly cause: CheckpointCause;
  readonly stats: WriteStats;
  /** Wall time the kernel was stopped for this checkpoint (freeze to commit), when measured. */
  readonly pauseMs?: number;
  /** The pre-copy session the image was written over, if any. */
  readonly precopy?: PrecopyStats;
}

/**
 * Where the kernel's checkpoints go: "the kernel's configured checkpoint target" that
 * sys_checkpoint(FREEZE, fd -1) and SIGCKPT write to. `createStoreTarget` is the one over an
 * image store; the interface lets hosts (the vkernel, tests) bring their own.
 */
export interface CheckpointTarget {
  checkpoint(
    kernel: Kernel,
    pid: number,
    options?: { callerTid?: number | null; cause?: CheckpointCause },
  ): Promise<CheckpointWritten>;
}
