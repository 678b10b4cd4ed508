import { describe, expect, it } from "vitest";
import { add, addi, amoadd_w, beq, blt, jal, li, lw, sw } from "../cpu/test-asm.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { Asm, DATA, image, la, sys } from "../kernel-test-support.ts";
import * as nr from "./syscall-numbers.ts";

const OUT = DATA + 0x100;

function spawnAsm(k: Kernel, a: Asm): number {
  return k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words()));
}

function u32(k: Kernel, pid: number, addr: number): number {
  return k.procs.get(pid)?.vm.readU32(addr) ?? -1;
}

function i64(k: Kernel, pid: number, addr: number): number {
  const b = k.procs.get(pid)?.vm.copyin(addr, 8);
  if (b === undefined || typeof b === "number") return -1;
  return Number(new DataView(b.buffer).getBigInt64(0, true));
}

describe("umtx and time", () => {
  it("umtx_sleep returns EBUSY when the word differs and ETIMEDOUT after the virtual timeout", async () => {
    const k = createKernel();
    const a = new Asm()
      .emit(li(5, DATA), li(6, 7), sw(6, 5, 0))
      .emit(sys(nr.SYS_umtx_sleep, DATA, 8, 0), li(5, OUT), sw(10, 5, 0))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x10))
      .emit(sys(nr.SYS_umtx_sleep, DATA, 7, 1500), li(5, OUT), sw(10, 5, 4))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x20))
      .emit(sys(nr.SYS_exit, 0));
    const pid = spawnAsm(k, a);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(u32(k, pid, OUT) | 0).toBe(-16);
    expect(u32(k, pid, OUT + 4) | 0).toBe(-110);
    const before = i64(k, pid, OUT + 0x18);
    const after = i64(k, pid, OUT + 0x28);
    expect(after - before).toBeGreaterThanOrEqual(1_500_000);
    expect(after - before).toBeLessThan(1_500_000 + 20_000);
  });

  it("clock_gettime64 counts one nanosecond per instruction; REALTIME starts at 2011-07-15", async () => {
    const k = createKernel();
    const a = new Asm()
      .emit(sys(nr.SYS_clock_gettime64, 0, OUT))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x10))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x20))
      .emit(sys(nr.SYS_clock_gettime64, 99, OUT + 0x30), li(5, OUT), sw(10, 5, 0x40))
      .emit(sys(nr.SYS_exit, 0));
    const pid = spawnAsm(k, a);
    await k.run();
    expect(i64(k, pid, OUT)).toBe(Date.UTC(2011, 6, 15) / 1000);
    const m1 = i64(k, pid, OUT + 0x18);
    const m2 = i64(k, pid, OUT + 0x28);
    expect(m2 - m1).toBe(6); // li a0 (2), li a1 (2), li a7 (2): the ecall itself is not retired
    expect(u32(k, pid, OUT + 0x40) | 0).toBe(-22);
  });

  it("clock_nanosleep sleeps on virtual time and other LWPs run meanwhile", async () => {
    const k = createKernel();
    const req = DATA + 0x200;
    const a = new Asm()
      .emit(li(5, req), li(6, 0), sw(6, 5, 0), sw(6, 5, 4), li(6, 2_000_000), sw(6, 5, 8), sw(0, 5, 12))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x10))
      .emit(sys(nr.SYS_clock_nanosleep_time64, 1, 0, req, 0), li(5, OUT), sw(10, 5, 0))
      .emit(sys(nr.SYS_clock_gettime64, 1, OUT + 0x20))
      .emit(sys(nr.SYS_exit, 0));
    const pid = spawnAsm(k, a);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(u32(k, pid, OUT)).toBe(0);
    const slept = i64(k, pid, OUT + 0x28) - i64(k, pid, OUT + 0x18);
    expect(slept).toBeGreaterThanOrEqual(2_000_000);
    expect(slept).toBeLessThan(2_000_000 + 20_000);
    expect(r.instructions).toBeLessThan(1000);
  });

  it("joins threads through lwp_create's tid_addr and umtx, counting with AMOs", async () => {
    const k = createKernel({ cpus: 2, seed: 3 });
    const counter = DATA + 0x300;
    const tids = DATA + 0x400;
    const b = new Asm();
    for (let t = 0; t < 3; t++) {
      b.emit(
        la(10, "worker"),
        li(11, DATA + 0x8000 + t * 0x1000),
        li(12, 0),
        li(13, t),
        li(14, tids + 4 * t),
      ).emit(li(17, nr.SYS_lwp_create), 0x73);
    }
    for (let t = 0; t < 3; t++) {
      b.label(`join${t}`)
        .emit(li(5, tids + 4 * t), lw(11, 5, 0))
        .emit((pc, L) => beq(11, 0, L(`joined${t}`) - pc))
        .emit(li(10, tids + 4 * t), li(12, 0), li(17, nr.SYS_umtx_sleep), 0x73)
        .emit((pc, L) => jal(0, L(`join${t}`) - pc))
        .label(`joined${t}`);
    }
    b.emit(li(5, counter), lw(10, 5, 0), li(17, nr.SYS_exit), 0x73);
    // worker: add 1 to the counter 1000 times, then exit
    b.label("worker")
      .emit(li(6, 1000), li(7, counter), li(28, 1))
      .label("loop")
      .emit(amoadd_w(0, 7, 28), addi(6, 6, -1))
      .emit((pc, L) => blt(0, 6, L("loop") - pc))
      .emit(sys(nr.SYS_exit, 0));
    const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(b.words()));
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(u32(k, pid, counter)).toBe(3000);
    expect(r.exitStatus).toBe(3000 & 0xff);
    // tids were stored, then cleared at exit; tids are unique and never the pid
    const proc = k.procs.get(pid);
    expect(proc?.lwps.map((l) => l.tid)).toEqual([pid, pid + 1, pid + 2, pid + 3]);
    for (let t = 0; t < 3; t++) expect(u32(k, pid, tids + 4 * t)).toBe(0);
  });
});

describe("interrupted sleeps", () => {
  it("clock_nanosleep ends with EINTR when a handler runs and reports the remainder", async () => {
    const k = createKernel({ input: '1000000000 "\\u0003"\n' });
    const req = DATA + 0x200;
    const rem = DATA + 0x220;
    const act = DATA + 0x240;
    const a = new Asm()
      .emit(la(5, "handler"), li(6, act), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, 2, act, 0, 8))
      .emit(li(5, req), li(6, 2), sw(6, 5, 0), sw(0, 5, 4), sw(0, 5, 8), sw(0, 5, 12))
      .emit(sys(nr.SYS_clock_nanosleep_time64, 1, 0, req, rem), li(5, OUT), sw(10, 5, 0))
      .emit(sys(nr.SYS_exit, 0))
      .label("handler")
      .emit(0x00008067); // ret (jalr x0, ra, 0)
    const pid = spawnAsm(k, a);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(u32(k, pid, OUT) | 0).toBe(-4);
    const left = i64(k, pid, rem) * 1e9 + i64(k, pid, rem + 8);
    expect(left).toBeGreaterThan(1_000_000_000);
    expect(left).toBeLessThanOrEqual(1_000_000_100); // 2 s from t≈33 ns, interrupted at exactly 1 s
  });
});

describe("umtx_wakeup", () => {
  it("wakes up to `count` sleepers in FIFO order and returns how many", async () => {
    const k = createKernel();
    const word = DATA;
    const order = DATA + 0x40;
    const b = new Asm();
    for (let t = 0; t < 3; t++) {
      b.emit(la(10, "sleeper"), li(11, DATA + 0x8000 + t * 0x1000), li(12, 0), li(13, t + 1), li(14, 0)).emit(
        li(17, nr.SYS_lwp_create),
        0x73,
      );
    }
    // let the sleepers run and block, then wake one, then all
    b.emit(sys(nr.SYS_sched_yield), sys(nr.SYS_sched_yield), sys(nr.SYS_sched_yield))
      .emit(sys(nr.SYS_umtx_wakeup, word, 1), li(5, OUT), sw(10, 5, 0))
      .emit(sys(nr.SYS_sched_yield))
      .emit(sys(nr.SYS_umtx_wakeup, word, 0), li(5, OUT), sw(10, 5, 4))
      .emit(sys(nr.SYS_sched_yield), sys(nr.SYS_sched_yield), sys(nr.SYS_sched_yield))
      .emit(sys(nr.SYS_umtx_wakeup, word, 0), li(5, OUT), sw(10, 5, 8))
      .emit(sys(nr.SYS_exit_group, 0));
    // sleeper(n): sleep on the word, then append n to the order log
    b.label("sleeper")
      .emit(addi(18, 10, 0))
      .emit(sys(nr.SYS_umtx_sleep, word, 0, 0))
      .emit(li(5, order), li(6, 4), amoadd_w(7, 5, 6), add(7, 7, 5), sw(18, 7, 4))
      .emit(sys(nr.SYS_exit, 0));
    const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(b.words()));
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect([u32(k, pid, OUT), u32(k, pid, OUT + 4), u32(k, pid, OUT + 8)]).toEqual([1, 2, 0]);
    expect([u32(k, pid, order + 4), u32(k, pid, order + 8), u32(k, pid, order + 12)]).toEqual([1, 2, 3]);
  });
});
