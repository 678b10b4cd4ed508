import { Prng } from "./proc-prng.ts";

/** One simulated CPU: a FIFO run queue of tids, the LWP it is running, its use of the round. */
export interface Cpu {
  readonly id: number;
  readonly queue: number[];
  current: number | null;
  /** Instructions (= virtual ns) this CPU has used in the current round. */
  used: number;
}

/**
 * The deterministic scheduler over N simulated CPUs.
 *
 * Time advances in *rounds* of `quantum` virtual nanoseconds. In each round every CPU, in order
 * 0..N-1, runs LWPs from its own queue for at most `quantum` instructions (1 instruction = 1 ns):
 * the LWP at the head runs until it blocks, yields or uses up the CPU's remaining round budget
 * (then it goes to the tail: a fixed quantum). A CPU with nothing to run idles for the rest of the
 * round (after trying to steal the head of the longest other queue). The virtual clock seen by
 * code on CPU c is `roundStart + cpus[c].used`; when the round ends `roundStart += quantum`, so
 * all CPUs' clocks agree at round boundaries. When no LWP at all can run, time jumps to the next
 * timer deadline or input event.
 *
 * Where a choice is needed (the CPU of a new LWP) the seeded PRNG decides. All state is plain.
 */
export class Scheduler {
  readonly cpus: Cpu[];
  roundStart = 0;
  /** The CPU whose turn it is within the current round. */
  cursor = 0;
  readonly prng: Prng;

  constructor(
    ncpus: number,
    readonly quantum: number,
    seed: number,
  ) {
    this.cpus = Array.from({ length: ncpus }, (_, id) => ({ id, queue: [], current: null, used: 0 }));
    this.prng = new Prng(seed);
  }

  /** A CPU for a new LWP. */
  chooseCpu(): number {
    return this.cpus.length === 1 ? 0 : this.prng.below(this.cpus.length);
  }

  enqueue(tid: number, cpu: number): void {
    const c = this.cpus[cpu] as Cpu;
    if (c.current === tid || c.queue.includes(tid)) return;
    c.queue.push(tid);
  }

  /** Remove `tid` from every queue and CPU. */
  remove(tid: number): void {
    for (const c of this.cpus) {
      const i = c.queue.indexOf(tid);
      if (i >= 0) c.queue.splice(i, 1);
      if (c.current === tid) c.current = null;
    }
  }

  /** The CPU whose turn it is. */
  get cpu(): Cpu {
    return this.cpus[this.cursor] as Cpu;
  }

  /** Virtual time on CPU `cpu` now. */
  now(cpu: number): number {
    return this.roundStart + (this.cpus[cpu] as Cpu).used;
  }

  /** Take the next tid for `cpu` (its own queue, else steal from the longest queue). */
  dequeue(cpu: Cpu): number | null {
    const own = cpu.queue.shift();
    if (own !== undefined) return own;
    let victim: Cpu | null = null;
    for (const c of this.cpus) if (c.queue.length > (victim?.queue.length ?? 0)) victim = c;
    if (victim === null) return null;
    return victim.queue.shift() ?? null;
  }

  /** Move to the next CPU; true when that ended the round. */
  advanceCursor(): boolean {
    this.cursor += 1;
    if (this.cursor < this.cpus.length) return false;
    this.cursor = 0;
    this.roundStart += this.quantum;
    // A CPU that ran past the round (only a vmspace_ctl guest run can, KERNEL.md "Guest
    // vmspaces") starts the next one with the excess used: its clock never goes back.
    for (const c of this.cpus) c.used = c.used > this.quantum ? c.used - this.quantum : 0;
    return true;
  }

  /** True when some CPU has a current or queued LWP. */
  anyRunnable(): boolean {
    return this.cpus.some((c) => c.current !== null || c.queue.length > 0);
  }
}
