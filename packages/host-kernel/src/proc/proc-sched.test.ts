import { describe, expect, it } from "vitest";
import { add, addi, amoadd_w, blt, li, slli, sw } from "../cpu/test-asm.ts";
import { createKernel } from "../kernel.ts";
import { Asm, DATA, image, la, sys } from "../kernel-test-support.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { Prng } from "./proc-prng.ts";
import { Scheduler } from "./proc-sched.ts";

const LOG = DATA + 0x1000;
const INDEX = DATA;

/** Three threads that each append their number to a shared log 200 times; main spins, then exits. */
async function interleaving(seed: number, cpus: number): Promise<string> {
  const k = createKernel({ cpus, seed, quantum: 50 });
  const a = new Asm();
  for (let t = 1; t <= 3; t++) {
    a.emit(la(10, "worker"), li(11, DATA + 0x8000 + t * 0x800), li(12, 0), li(13, t), li(14, 0)).emit(
      li(17, nr.SYS_lwp_create),
      0x73,
    );
  }
  a.emit(li(6, 20000))
    .label("spin")
    .emit(addi(6, 6, -1), (pc, L) => blt(0, 6, L("spin") - pc));
  a.emit(sys(nr.SYS_exit_group, 0));
  a.label("worker")
    .emit(li(6, 200), li(7, INDEX), li(28, 1))
    .label("loop")
    .emit(amoadd_w(29, 7, 28), slli(29, 29, 2), li(30, LOG), add(29, 29, 30), sw(10, 29, 0))
    .emit(addi(6, 6, -1), (pc, L) => blt(0, 6, L("loop") - pc))
    .emit(sys(nr.SYS_exit, 0));
  const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words()));
  const r = await k.run();
  expect(r.reason).toBe("exited");
  const log = k.procs.get(pid)?.vm.copyin(LOG, 600 * 4);
  if (log === undefined || typeof log === "number") throw new Error("no log");
  return Array.from(new Uint32Array(log.buffer)).join("");
}

describe("scheduler", () => {
  it("gives the same interleaving for the same seed", async () => {
    for (const cpus of [1, 2, 4]) {
      expect(await interleaving(11, cpus)).toBe(await interleaving(11, cpus));
    }
  });

  it("interleaves differently for different seeds on several CPUs", async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) seen.add(await interleaving(seed, 4));
    expect(seen.size).toBeGreaterThan(1);
    for (const log of seen) expect(log).toHaveLength(600);
  });

  it("runs CPUs in rounds of one quantum and steals work for idle CPUs", () => {
    const s = new Scheduler(2, 100, 1);
    s.enqueue(10, 0);
    s.enqueue(11, 0);
    expect(s.dequeue(s.cpus[0]!)).toBe(10);
    expect(s.dequeue(s.cpus[1]!)).toBe(11);
    expect(s.dequeue(s.cpus[1]!)).toBeNull();
    expect(s.advanceCursor()).toBe(false);
    expect(s.advanceCursor()).toBe(true);
    expect(s.roundStart).toBe(100);
    s.cpus[1]!.used = 30;
    expect(s.now(1)).toBe(130);
  });

  it("has a PRNG whose state is one plain number", () => {
    const a = new Prng(42);
    const first = [a.next(), a.next(), a.next()];
    const b = new Prng(42);
    expect([b.next(), b.next(), b.next()]).toEqual(first);
    const c = new Prng(0);
    c.state = a.state;
    expect(c.next()).toBe(a.next());
    for (let i = 0; i < 100; i++) expect(a.below(3)).toBeLessThan(3);
  });
});
