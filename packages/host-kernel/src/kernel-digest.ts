import { createHash } from "node:crypto";
import type { Kernel } from "./kernel.ts";
import { settleLazy } from "./vm/vm-lazy.ts";

/**
 * SHA-256 over the machine state that a run determines: for each process (pid order) its
 * identity and status, each LWP's registers, state and signal state, every map entry and the
 * non-zero pages of its object, and the descriptor table; plus the virtual clock.
 */
export function computeDigest(k: Kernel): string {
  const h = createHash("sha256");
  const line = (s: string): void => {
    h.update(s);
    h.update("\n");
  };
  line(`time ${k.sched.roundStart} instr ${k.instructions}`);
  const pids = [...k.procs.keys()].sort((a, b) => a - b);
  for (const pid of pids) {
    const p = k.procs.get(pid);
    if (p === undefined) continue;
    line(`proc ${p.pid} ${p.ppid} ${p.pgid} ${p.state} ${p.exitStatus} ${p.comm}`);
    for (const l of p.lwps) {
      const ctx = l.hart.getContext();
      line(`lwp ${l.tid} ${l.state} ${ctx.pc} ${ctx.x.join(",")} ${l.sigmask} ${l.pending}`);
    }
    for (const e of p.vm.entries) {
      line(`map ${e.start} ${e.end} ${e.prot} ${e.flags} ${e.offset} ${e.type}`);
      const first = e.offset >>> 12;
      const last = (e.offset + e.end - e.start) >>> 12;
      settleLazy(e.object); // a lazy thaw's pages still in the image count as they are
      const indexes = [...e.object.pages.keys()].filter((i) => i >= first && i < last).sort((a, b) => a - b);
      for (const i of indexes) {
        const page = e.object.pages.get(i) as Uint8Array;
        if (page.every((b) => b === 0)) continue;
        line(`page ${i - first}`);
        h.update(page);
      }
    }
    for (const fd of p.fds.open()) {
      const f = p.fds.get(fd);
      if (f !== null) line(`fd ${fd} ${f.ops.kind} ${f.flags} ${f.offset}`);
    }
  }
  return h.digest("hex");
}
