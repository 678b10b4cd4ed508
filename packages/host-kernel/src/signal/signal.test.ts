import { describe, expect, it } from "vitest";
import { addi, jalr, li, lw, sw } from "../cpu/test-asm.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { Asm, DATA, la, sys } from "../kernel-test-support.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { SIGCODE_ADDR } from "../vm/vm-types.ts";
import { FRAME_SIZE, UC_GREGS, UC_SIGMASK } from "./signal-frame.ts";
import { SA_ONSTACK, SA_RESTART, SIGSEGV, SIGTERM, SIGUSR1, sigbit } from "./signal-numbers.ts";

const ACT = DATA; // struct sigaction for rt_sigaction
const REC = DATA + 0x100; // what handlers record
const MASKS = DATA + 0x300;

function sigactionBytes(handler: number, flags = 0, mask = 0n): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, handler, true);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, mask, true);
  return b;
}

function data(handler: number, flags = 0): Uint8Array {
  const d = new Uint8Array(0x400);
  d.set(sigactionBytes(handler, flags));
  return d;
}

function spawn(k: Kernel, a: Asm, d: Uint8Array): number {
  return k.spawnImage(
    { path: "/sig", argv: ["sig"] },
    {
      entry: a.base,
      segments: [
        { vaddr: a.base, memsz: a.words().length * 4, data: wordsOf(a), prot: 5 },
        { vaddr: DATA, memsz: 0x10000, data: d, prot: 3 },
      ],
    },
  );
}

function wordsOf(a: Asm): Uint8Array {
  const w = a.words();
  const b = new Uint8Array(w.length * 4);
  const v = new DataView(b.buffer);
  w.forEach((x, i) => {
    v.setUint32(4 * i, x >>> 0, true);
  });
  return b;
}

function u32(k: Kernel, pid: number, addr: number): number {
  return k.procs.get(pid)?.vm.readU32(addr) ?? -1;
}

/** A handler (at 0x400) that records a0, a1, a2, sp, ra, its mask, clobbers s1 and edits gregs[18]. */
function handlerAt(a: Asm): void {
  a.org(0x400)
    .label("handler")
    .emit(li(5, REC), sw(10, 5, 0), sw(11, 5, 4), sw(12, 5, 8), sw(2, 5, 12), sw(1, 5, 16))
    .emit(addi(18, 10, 0)) // s2 = signo, keep a2 in s3
    .emit(addi(19, 12, 0))
    .emit(sys(nr.SYS_rt_sigprocmask, 0, 0, MASKS, 8))
    .emit(li(9, 99)) // clobber s1: sigreturn must restore it
    .emit(li(6, 77), sw(6, 19, UC_GREGS + 4 * 18)) // edit the saved s2 in the ucontext
    .emit(jalr(0, 1, 0));
}

describe("signal delivery", () => {
  it("builds the rt_sigframe, runs the handler and sigreturn restores registers and mask", async () => {
    const k = createKernel();
    const a = new Asm();
    a.emit(sys(nr.SYS_rt_sigaction, SIGUSR1, ACT, 0, 8))
      .emit(li(9, 5), li(18, 1))
      .emit(sys(nr.SYS_getpid))
      .emit(li(11, SIGUSR1), li(17, nr.SYS_kill))
      .label("kill")
      .emit(0x73)
      .emit(sys(nr.SYS_rt_sigprocmask, 0, 0, MASKS + 8, 8))
      .emit(li(5, REC), sw(9, 5, 0x40), sw(18, 5, 0x44))
      .emit(sys(nr.SYS_exit, 0));
    handlerAt(a);
    const handler = a.base + 0x400;
    const pid = spawn(k, a, data(handler));
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(0);
    const frame = u32(k, pid, REC + 4);
    expect(u32(k, pid, REC)).toBe(SIGUSR1);
    expect(u32(k, pid, REC + 8)).toBe(frame + 128);
    expect(u32(k, pid, REC + 12)).toBe(frame);
    expect(u32(k, pid, REC + 16)).toBe(SIGCODE_ADDR);
    expect(frame % 16).toBe(0);
    // siginfo: signo, errno, code SI_USER 0, pid
    expect(u32(k, pid, frame)).toBe(SIGUSR1);
    expect(u32(k, pid, frame + 8)).toBe(0);
    expect(u32(k, pid, frame + 12)).toBe(pid);
    // ucontext: saved pc is after the kill ecall, a0 = 0 (kill's result), mask empty
    expect(u32(k, pid, frame + 128 + UC_GREGS)).toBe(a.addr("kill") + 4);
    expect(u32(k, pid, frame + 128 + UC_GREGS + 40)).toBe(0);
    expect(u32(k, pid, frame + 128 + UC_SIGMASK)).toBe(0);
    // inside the handler SIGUSR1 was blocked; after sigreturn it is not
    expect(u32(k, pid, MASKS)).toBe(Number(sigbit(SIGUSR1)));
    expect(u32(k, pid, MASKS + 8)).toBe(0);
    // s1 restored, s2 taken from the edited ucontext
    expect(u32(k, pid, REC + 0x40)).toBe(5);
    expect(u32(k, pid, REC + 0x44)).toBe(77);
    expect(FRAME_SIZE).toBe(416);
  });

  it("uses the alternate stack with SA_ONSTACK", async () => {
    const k = createKernel();
    const alt = DATA + 0x8000;
    const a = new Asm();
    const ss = DATA + 0x200;
    const d = data(0, SA_ONSTACK);
    const v = new DataView(d.buffer);
    v.setUint32(0x200, alt, true);
    v.setInt32(0x204, 0, true);
    v.setUint32(0x208, 0x4000, true);
    a.emit(sys(nr.SYS_sigaltstack, ss, 0))
      .emit(la(5, "handler"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGUSR1, ACT, 0, 8))
      .emit(sys(nr.SYS_getpid))
      .emit(li(11, SIGUSR1), li(17, nr.SYS_kill), 0x73)
      .emit(sys(nr.SYS_exit, 0));
    handlerAt(a);
    const pid = spawn(k, a, d);
    const r = await k.run();
    expect(r.exitStatus).toBe(0);
    const sp = u32(k, pid, REC + 12);
    expect(sp).toBeGreaterThanOrEqual(alt);
    expect(sp).toBeLessThan(alt + 0x4000);
    expect(sp).toBe((alt + 0x4000 - FRAME_SIZE) & ~15);
    // uc_stack says we were not on the altstack when interrupted (ss_flags 0) and gives it back
    expect(u32(k, pid, sp + 128 + 8)).toBe(alt);
    expect(u32(k, pid, sp + 128 + 12)).toBe(0);
  });

  it("applies default actions: terminate gives 128+n, SIG_IGN ignores", async () => {
    const k1 = createKernel();
    const a1 = new Asm().emit(
      sys(nr.SYS_getpid),
      li(11, SIGTERM),
      li(17, nr.SYS_kill),
      0x73,
      sys(nr.SYS_exit, 3),
    );
    spawn(k1, a1, new Uint8Array(0));
    expect((await k1.run()).exitStatus).toBe(128 + SIGTERM);

    const k2 = createKernel();
    const a2 = new Asm()
      .emit(sys(nr.SYS_rt_sigaction, SIGTERM, ACT, 0, 8))
      .emit(sys(nr.SYS_getpid), li(11, SIGTERM), li(17, nr.SYS_kill), 0x73, sys(nr.SYS_exit, 3));
    spawn(k2, a2, data(1));
    expect((await k2.run()).exitStatus).toBe(3);
  });

  it("keeps blocked signals pending until they are unblocked", async () => {
    const k = createKernel();
    const d = data(0);
    new DataView(d.buffer).setBigUint64(0x200, sigbit(SIGUSR1), true);
    const a = new Asm()
      .emit(la(5, "handler"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGUSR1, ACT, 0, 8))
      .emit(sys(nr.SYS_rt_sigprocmask, 0, DATA + 0x200, 0, 8))
      .emit(sys(nr.SYS_getpid), li(11, SIGUSR1), li(17, nr.SYS_kill), 0x73)
      .emit(li(5, REC), lw(6, 5, 0), sw(6, 5, 0x50)) // handler has not run yet: REC[0] still 0
      .emit(sys(nr.SYS_rt_sigprocmask, 1, DATA + 0x200, 0, 8))
      .emit(sys(nr.SYS_exit, 0));
    handlerAt(a);
    const pid = spawn(k, a, d);
    expect((await k.run()).exitStatus).toBe(0);
    expect(u32(k, pid, REC + 0x50)).toBe(0);
    expect(u32(k, pid, REC)).toBe(SIGUSR1);
  });

  it("turns a bad load into SIGSEGV with si_addr and SEGV_MAPERR, or kills with 139", async () => {
    const k1 = createKernel();
    spawn(k1, new Asm().emit(li(5, 0x1234), lw(6, 5, 0), sys(nr.SYS_exit, 0)), new Uint8Array(0));
    expect((await k1.run()).exitStatus).toBe(128 + SIGSEGV);

    const k2 = createKernel();
    const a = new Asm()
      .emit(la(5, "segv"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGSEGV, ACT, 0, 8))
      .emit(li(5, 0x1234), lw(6, 5, 0), sys(nr.SYS_exit, 1))
      .label("segv")
      .emit(lw(5, 11, 8), lw(6, 11, 12)) // si_code, si_addr
      .emit(li(7, REC), sw(5, 7, 0), sw(6, 7, 4))
      .emit(sys(nr.SYS_exit, 42));
    const pid = spawn(k2, a, data(0));
    expect((await k2.run()).exitStatus).toBe(42);
    expect(u32(k2, pid, REC)).toBe(1);
    expect(u32(k2, pid, REC + 4)).toBe(0x1234);
  });

  it("reports a write to read-only memory as SEGV_ACCERR and ebreak as SIGTRAP", async () => {
    const k = createKernel();
    const a = new Asm()
      .emit(la(5, "segv"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGSEGV, ACT, 0, 8))
      .emit(li(5, 0x10000), sw(0, 5, 0), sys(nr.SYS_exit, 1))
      .label("segv")
      .emit(lw(5, 11, 8), addi(10, 5, 0), li(17, nr.SYS_exit), 0x73);
    spawn(k, a, data(0));
    expect((await k.run()).exitStatus).toBe(2);

    const k2 = createKernel();
    spawn(k2, new Asm().emit(0x00100073), new Uint8Array(0));
    expect((await k2.run()).exitStatus).toBe(128 + 5);
  });
});

describe("interrupted syscalls", () => {
  /** Block in read on an empty pipe; a handler for SIGUSR1 with `flags`. */
  function blocker(flags: number): { k: Kernel; pid: number } {
    const k = createKernel();
    const a = new Asm()
      .emit(la(5, "handler"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGUSR1, ACT, 0, 8))
      .emit(sys(nr.SYS_pipe2, DATA + 0x200, 0))
      .emit(li(5, DATA + 0x200), lw(10, 5, 0), li(11, DATA + 0x280), li(12, 4), li(17, nr.SYS_read), 0x73)
      .emit(li(5, REC), sw(10, 5, 0x60))
      .emit(sys(nr.SYS_exit, 0))
      .label("handler")
      .emit(li(5, REC), li(6, 1), sw(6, 5, 0x64), jalr(0, 1, 0));
    const pid = spawn(k, a, data(0, flags));
    return { k, pid };
  }

  it("fails a blocked read with EINTR without SA_RESTART", async () => {
    const { k, pid } = blocker(0);
    const r1 = await k.run();
    expect(r1.reason).toBe("deadlock");
    k.signalProcess(pid, SIGUSR1);
    const r2 = await k.run();
    expect(r2.reason).toBe("exited");
    expect(u32(k, pid, REC + 0x64)).toBe(1);
    expect(u32(k, pid, REC + 0x60) | 0).toBe(-4);
  });

  it("restarts a blocked read with SA_RESTART", async () => {
    const { k, pid } = blocker(SA_RESTART);
    await k.run();
    k.signalProcess(pid, SIGUSR1);
    const r = await k.run();
    expect(r.reason).toBe("deadlock");
    expect(u32(k, pid, REC + 0x64)).toBe(1);
    expect(u32(k, pid, REC + 0x60)).toBe(0);
  });
});

describe("signal syscalls: errors and flags", () => {
  async function results(calls: (number | string)[][], d: Uint8Array = data(0)): Promise<number[]> {
    const k = createKernel();
    const a = new Asm();
    calls.forEach(([n, ...args], i) => {
      a.emit(sys(n as number, ...args), li(5, REC + 4 * i), sw(10, 5, 0));
    });
    a.emit(sys(nr.SYS_exit, 0));
    const pid = spawn(k, a, d);
    await k.run();
    return calls.map((_, i) => u32(k, pid, REC + 4 * i) | 0);
  }

  it("validates arguments like Linux", async () => {
    const r = await results([
      [nr.SYS_rt_sigaction, 9, ACT, 0, 8], // SIGKILL cannot be caught
      [nr.SYS_rt_sigaction, 65, 0, 0, 8],
      [nr.SYS_rt_sigaction, SIGUSR1, 0, 0, 4], // sigsetsize must be 8
      [nr.SYS_rt_sigaction, SIGUSR1, 0x10, 0, 8], // EFAULT
      [nr.SYS_rt_sigprocmask, 7, MASKS, 0, 8],
      [nr.SYS_rt_sigprocmask, 7, 0, 0, 8], // how ignored without a set
      [nr.SYS_kill, 9999, SIGUSR1],
      [nr.SYS_kill, 1, 0], // probe
      [nr.SYS_kill, 1, 99],
      [nr.SYS_tgkill, 1, 9999, SIGUSR1],
      [nr.SYS_sigaltstack, DATA + 0x200, 0], // size 0 < MINSIGSTKSZ
    ]);
    expect(r).toEqual([-22, -22, -22, -14, -22, 0, -3, 0, -22, -3, -12]);
  });

  it("SA_RESETHAND runs the handler once; SIGKILL and SIGSTOP never enter the mask", async () => {
    const k = createKernel();
    const d = data(0, 0x80000000);
    new DataView(d.buffer).setBigUint64(0x200, (1n << 64n) - 1n, true);
    const a = new Asm()
      .emit(la(5, "h"), li(6, ACT), sw(5, 6, 0))
      .emit(sys(nr.SYS_rt_sigaction, SIGUSR1, ACT, 0, 8))
      .emit(sys(nr.SYS_rt_sigprocmask, 2, DATA + 0x200, 0, 8))
      .emit(sys(nr.SYS_rt_sigprocmask, 0, 0, MASKS, 8))
      .emit(sys(nr.SYS_rt_sigprocmask, 2, DATA + 0x380, 0, 8)) // unblock all (0x380 holds zeros)
      .emit(sys(nr.SYS_getpid), li(11, SIGUSR1), li(17, nr.SYS_kill), 0x73)
      .emit(sys(nr.SYS_getpid), li(11, SIGUSR1), li(17, nr.SYS_kill), 0x73)
      .emit(sys(nr.SYS_exit, 0))
      .label("h")
      .emit(li(5, REC + 0x80), lw(6, 5, 0), addi(6, 6, 1), sw(6, 5, 0), jalr(0, 1, 0));
    const pid = spawn(k, a, d);
    const r = await k.run();
    // the second SIGUSR1 found SIG_DFL again: terminate
    expect(r.exitStatus).toBe(128 + SIGUSR1);
    expect(u32(k, pid, REC + 0x80)).toBe(1);
    const mask = (BigInt(u32(k, pid, MASKS + 4)) << 32n) | BigInt(u32(k, pid, MASKS));
    expect(mask & sigbit(9)).toBe(0n);
    expect(mask & sigbit(19)).toBe(0n);
    expect(mask & sigbit(SIGUSR1)).not.toBe(0n);
  });
});
