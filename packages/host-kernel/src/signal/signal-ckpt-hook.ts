import type { CheckpointRequest } from "../ckpt/ckpt-types.ts";
import type { Lwp, Process } from "../proc/proc-types.ts";
import { SIG_DFL, SIGCKPT, SIGCKPTEXIT, SIGTHAW } from "./signal-numbers.ts";

/**
 * What the default action of SIGCKPT (33), SIGCKPTEXIT (34) and SIGTHAW (35) does.
 * - "ignore": discard the signal;
 * - "terminate": the process exits as if killed by the signal (status 128+sig);
 * - "handled": the hook did the work itself (e.g. wrote a checkpoint) and the LWP runs on.
 */
export type CheckpointSignalAction = "ignore" | "terminate" | "handled";

/** What the hook needs of the kernel: its checkpoint target and request queue (src/ckpt). */
interface CheckpointQueue {
  readonly checkpointTarget: unknown;
  readonly checkpointRequests: CheckpointRequest[];
}

function checkpointQueue(k: object | undefined): CheckpointQueue | null {
  if (k === undefined || !("checkpointRequests" in k) || !("checkpointTarget" in k)) return null;
  const q = k as CheckpointQueue;
  return q.checkpointTarget === null || q.checkpointTarget === undefined ? null : q;
}

/** Queue "checkpoint and continue" (SIGCKPT) or "checkpoint and exit" (SIGCKPTEXIT). */
function queue(q: CheckpointQueue, proc: Process, sig: number): void {
  q.checkpointRequests.push({
    pid: proc.pid,
    callerTid: null,
    cause: sig === SIGCKPTEXIT ? "sigckptexit" : "sigckpt",
  });
}

/**
 * Called by signal delivery when SIGCKPT/SIGCKPTEXIT/SIGTHAW reaches `lwp` with SIG_DFL (a
 * checkpoint signal that was blocked when posted). With a checkpoint target, SIGCKPT and
 * SIGCKPTEXIT queue a checkpoint that the run loop takes between slices ("handled"; SIGCKPTEXIT
 * exits after the image is written). Without one, SIGCKPT is ignored and SIGCKPTEXIT
 * terminates. SIGTHAW's default is to be ignored.
 */
export function onCheckpointSignal(
  proc: Process,
  _lwp: Lwp,
  sig: number,
  k?: object,
): CheckpointSignalAction {
  if (sig === SIGTHAW) return "ignore";
  const q = checkpointQueue(k);
  if (q === null) return sig === SIGCKPTEXIT ? "terminate" : "ignore";
  queue(q, proc, sig);
  return "handled";
}

/**
 * At post time: a SIG_DFL SIGCKPT/SIGCKPTEXIT that some LWP does not block is taken at once
 * (the checkpoint is queued, nothing becomes pending and no sleeping LWP is woken, so a blocked
 * syscall is not disturbed). True when the signal was consumed.
 */
export function takeCheckpointSignal(k: object, proc: Process, sig: number): boolean {
  if (sig !== SIGCKPT && sig !== SIGCKPTEXIT) return false;
  if (proc.sigacts[sig]?.handler !== SIG_DFL) return false;
  const q = checkpointQueue(k);
  if (q === null) return false;
  queue(q, proc, sig);
  return true;
}

/** Whether a SIG_DFL checkpoint signal is discarded when posted (no LWP needs waking for it). */
export function checkpointSignalIgnoredAtPost(sig: number): boolean {
  return sig !== SIGCKPTEXIT;
}
