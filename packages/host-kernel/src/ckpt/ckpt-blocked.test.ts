import { describe, expect, it } from "vitest";
import { createKernel, type Kernel, type RunResult } from "../kernel.ts";
import { spawnCode, sys } from "../kernel-test-support.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { SYS_clock_nanosleep_time64, SYS_exit_group, SYS_write } from "../syscall/syscall-numbers.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages, runToEnd, startGuest, text, thawGuest } from "./ckpt-test-support.ts";
import { thawProcess } from "./thaw.ts";

/**
 * Threads frozen while blocked in a syscall come back blocked in it: the same channel, place in
 * the FIFO, deadline and completion rule, so the rest of the run is exactly the uninterrupted one.
 */

/** Run slice by slice until some LWP sleeps as `blocked` says; false if the run ended first. */
async function runUntilBlocked(kernel: Kernel, blocked: (l: Lwp) => boolean): Promise<boolean> {
  for (;;) {
    for (const l of kernel.lwps.values()) if (l.state === "sleeping" && blocked(l)) return true;
    // One slice at a time: an idle kernel skips to the next event within the next step.
    if (kernel.step(Infinity, Infinity) !== null) return false;
  }
}

async function expectBlockedThaw(
  program: string,
  args: readonly string[],
  options: { cpus?: number; input?: string },
  blocked: (l: Lwp) => boolean,
): Promise<{ frozen: Kernel; thawed: Kernel; result: RunResult }> {
  const whole = startGuest(program, args, options);
  const a = await runToEnd(whole.kernel);
  const images = memoryImages();
  const g = startGuest(program, args, options);
  expect(await runUntilBlocked(g.kernel, blocked)).toBe(true);
  const w = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
  const t = await thawGuest(images, w.id, program, {}, [...g.chunks]);
  const sleeping = [...t.kernel.lwps.values()].filter((l) => l.state === "sleeping" && blocked(l));
  expect(sleeping.length).toBeGreaterThan(0);
  const b = await runToEnd(t.kernel);
  expect(text(t.chunks)).toBe(text(whole.chunks));
  expect([b.reason, b.exitStatus, b.instructions, b.digest]).toEqual([
    a.reason,
    a.exitStatus,
    a.instructions,
    a.digest,
  ]);
  return { frozen: g.kernel, thawed: t.kernel, result: b };
}

describe("threads blocked in syscalls come back right", () => {
  it("inside umtx_sleep (mutex and condvar waits)", async () => {
    await expectBlockedThaw("threads", ["4", "1000"], { cpus: 2 }, (l) => l.sleepMode === "umtx");
  }, 60_000);

  it("inside a pipe read", async () => {
    await expectBlockedThaw(
      "pipes",
      ["64", "threads"],
      { cpus: 2 },
      (l) => l.wchan?.startsWith("pipe:") === true && l.wchan.endsWith(":r"),
    );
  }, 60_000);

  it("ttyraw: inside the tty read, with the raw tty mode back after the thaw", async () => {
    const input = '2000000 "ab"\n4000000 "\\u0005x"\n6000000 "q"\n';
    const { frozen, thawed, result } = await expectBlockedThaw(
      "ttyraw",
      [],
      { input },
      (l) => l.wchan === "tty:console:in",
    );
    expect(result.exitStatus).toBe(0);
    // Frozen inside the raw-mode read, so the thaw must have brought raw mode back.
    expect(frozen.tty.termios.lflag & 0x2).toBe(0);
    const t = await thawGuestTtyAt(input);
    expect(t.termios).toEqual(t.original);
    expect(thawed.tty.winsize).toEqual(frozen.tty.winsize);
  }, 60_000);

  it("inside clock_nanosleep: the deadline stays where it was", async () => {
    const data = new Uint8Array(32);
    new DataView(data.buffer).setBigInt64(8, 5_000_000n, true); // 5 ms
    data.set(new TextEncoder().encode("ok\n"), 16);
    const code = [
      ...sys(SYS_clock_nanosleep_time64, 1, 0, 0x40000, 0),
      ...sys(SYS_write, 1, 0x40010, 3),
      ...sys(SYS_exit_group, 7),
    ];
    const out: Uint8Array[] = [];
    const whole = createKernel({ console: { write: (b) => out.push(b.slice()) } });
    spawnCode(whole, code, data);
    const a = await whole.run();
    const k = createKernel();
    spawnCode(k, code, data);
    expect(await runUntilBlocked(k, (l) => l.sleepMode === "nanosleep")).toBe(true);
    const lwp = [...k.lwps.values()][0];
    expect([lwp?.state, lwp?.sleepMode]).toEqual(["sleeping", "nanosleep"]);
    const images = memoryImages();
    const w = await createStoreTarget(images).checkpoint(k, k.initPid);
    const thawedOut: Uint8Array[] = [];
    const t = await thawProcess(images, w.id, { console: { write: (b) => thawedOut.push(b.slice()) } });
    expect([...t.kernel.lwps.values()][0]?.deadline).toBe(lwp?.deadline);
    const b = await t.kernel.run();
    expect(text(thawedOut)).toBe("ok\r\n");
    expect([b.exitStatus, b.time, b.instructions, b.digest]).toEqual([7, a.time, a.instructions, a.digest]);
    expect(a.time).toBeGreaterThanOrEqual(5_000_000);
  });
});

/** Freeze ttyraw at its first raw-mode read and compare the thawed termios with the frozen one. */
async function thawGuestTtyAt(input: string) {
  const images = memoryImages();
  const g = startGuest("ttyraw", [], { input });
  await runUntilBlocked(g.kernel, (l) => l.wchan === "tty:console:in");
  const w = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
  const t = await thawGuest(images, w.id, "ttyraw");
  return { termios: t.kernel.tty.termios, original: g.kernel.tty.termios };
}
