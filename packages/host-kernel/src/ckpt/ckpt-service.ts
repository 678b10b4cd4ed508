import type { Kernel } from "../kernel.ts";
import { SIGCKPTEXIT } from "../signal/signal-numbers.ts";
import { EIO, EOPNOTSUPP } from "../syscall/errno.ts";
import type { CheckpointRequest } from "./ckpt-types.ts";

/**
 * Checkpoints are requests the run loop services between slices: sys_checkpoint(FREEZE) and a
 * SIG_DFL SIGCKPT/SIGCKPTEXIT only queue one, because the image write is asynchronous (store I/O)
 * and a slice is synchronous. `Kernel.run` awaits this before the next slice, so every LWP is at
 * an instruction boundary and virtual time does not move while the image is written.
 */
export function requestCheckpoint(k: Kernel, request: CheckpointRequest): void {
  k.checkpointRequests.push(request);
}

/** Complete the caller's sys_checkpoint with `result` (a0) and step past its ecall. */
function complete(k: Kernel, tid: number | null, result: number): void {
  if (tid === null) return;
  const lwp = k.lwps.get(tid);
  if (lwp === undefined || lwp.state === "zombie") return;
  lwp.hart.x[10] = result | 0;
  lwp.hart.pc = (lwp.hart.pc + 4) >>> 0;
}

/**
 * Whether an ancestor of `pid` is in `pids`. An image holds the whole process tree, so a signal
 * sent to a process group (the tty's ^E) writes one image of the tree, not one per process.
 */
function hasAncestorIn(k: Kernel, pid: number, pids: readonly number[]): boolean {
  const seen = new Set<number>();
  for (let p = k.procs.get(pid); p !== undefined && p.ppid !== 0 && !seen.has(p.pid); ) {
    seen.add(p.pid);
    if (pids.includes(p.ppid)) return true;
    p = k.procs.get(p.ppid);
  }
  return false;
}

/**
 * Take every queued checkpoint (awaiting each write), then let the process go on or exit. A
 * request of a signal (no sys_checkpoint caller) for a process whose ancestor is checkpointed in
 * the same batch writes nothing: the ancestor's image holds it (CHECKPOINT.md "Process trees").
 */
export async function serviceCheckpoints(k: Kernel): Promise<void> {
  const batch: number[] = [];
  for (let req = k.checkpointRequests.shift(); req !== undefined; req = k.checkpointRequests.shift()) {
    const proc = k.procs.get(req.pid);
    if (proc === undefined || proc.state !== "alive") continue;
    const target = k.checkpointTarget;
    let result = 0;
    batch.push(req.pid);
    const covered =
      req.callerTid === null &&
      hasAncestorIn(k, req.pid, [...batch, ...k.checkpointRequests.map((r) => r.pid)]);
    if (target !== null && !covered) {
      try {
        await target.checkpoint(k, req.pid, { callerTid: req.callerTid, cause: req.cause });
      } catch (error) {
        result = -EIO;
        k.checkpointErrors.push(error);
      }
    }
    complete(k, req.callerTid, result);
    if (req.cause === "sigckptexit" && result === 0) k.exitProcess(proc, 128 + SIGCKPTEXIT);
  }
}

/** `runSync` cannot await a store: queued checkpoints fail (the caller sees -EOPNOTSUPP). */
export function failCheckpoints(k: Kernel): void {
  for (let req = k.checkpointRequests.shift(); req !== undefined; req = k.checkpointRequests.shift()) {
    complete(k, req.callerTid, -EOPNOTSUPP);
  }
}
