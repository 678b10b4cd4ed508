import { describe, expect, it } from "vitest";
import { createKernel } from "../kernel.ts";
import { RecordingConsole } from "../kernel-test-support.ts";
import { SIGUSR1 } from "../signal/signal-numbers.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../vm/vm-types.ts";
import {
  NATIVE_HANDLER_BASE,
  type NativeEnv,
  type NativeProgram,
  type NativeThreadContext,
} from "./native-types.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Put `text` in the thread's memory at addr and return a write(1, ...) action. */
function say(env: NativeEnv, addr: number, text: string) {
  const bytes = enc(text);
  env.vm.copyout(addr, bytes);
  return { syscall: nr.SYS_write, args: [1, addr, bytes.length] };
}

type S = { step: number; addr: number };
const st = (ctx: NativeThreadContext): S => ctx.state as S;

/**
 * main maps a page and starts a producer and a consumer; the producer stores 42 in the page and
 * wakes the consumer through umtx; the consumer sleeps until the word is set and exits with it.
 */
const program: NativeProgram = {
  main: "main",
  threadRoles: ["producer", "consumer"],
  initialState: { step: 0, addr: 0 },
  steps: {
    main(ctx) {
      const s = st(ctx);
      switch (s.step++) {
        case 0:
          return {
            syscall: nr.SYS_mmap2,
            args: [0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0],
          };
        case 1:
          s.addr = ctx.result >>> 0;
          return { syscall: nr.SYS_lwp_create, args: [1, 0, 0, s.addr, 0] };
        case 2:
          return { syscall: nr.SYS_lwp_create, args: [0, 0, 0, s.addr, 0] };
        default:
          return { syscall: nr.SYS_exit, args: [0] };
      }
    },
    producer(ctx, env) {
      if (ctx.state === null) ctx.state = { step: 0, addr: ctx.result >>> 0 };
      const s = st(ctx);
      switch (s.step++) {
        case 0:
          return say(env, s.addr + 64, `producer ${env.tid}: storing 42\n`);
        case 1:
          env.vm.writeU32(s.addr, 42);
          return { syscall: nr.SYS_umtx_wakeup, args: [s.addr, 0] };
        default:
          return { syscall: nr.SYS_exit, args: [0] };
      }
    },
    consumer(ctx, env) {
      if (ctx.state === null) ctx.state = { step: 0, addr: ctx.result >>> 0 };
      const s = st(ctx);
      if (s.step === 0) {
        const v = env.vm.readU32(s.addr) ?? 0;
        if (v === 0) return { syscall: nr.SYS_umtx_sleep, args: [s.addr, 0, 0] };
        s.step = 1;
        return say(env, s.addr + 256, `consumer ${env.tid}: got ${v}\n`);
      }
      return { syscall: nr.SYS_exit_group, args: [env.vm.readU32(s.addr) ?? 0] };
    },
  },
};

describe("native programs", () => {
  it("runs TypeScript threads that make host syscalls and meet through umtx", async () => {
    for (const cpus of [1, 2]) {
      const console = new RecordingConsole();
      const k = createKernel({ console, cpus, natives: { "/boot/demo": program } });
      const pid = k.spawn({ path: "/boot/demo" });
      const r = await k.run();
      expect(r.reason).toBe("exited");
      expect(r.exitStatus).toBe(42);
      const lines = console
        .text()
        .split("\r\n")
        .filter((l) => l !== "");
      expect(lines).toEqual([`producer ${pid + 2}: storing 42`, `consumer ${pid + 1}: got 42`]);
      const proc = k.procs.get(pid);
      expect(proc?.lwps.map((l) => l.tid)).toEqual([pid, pid + 1, pid + 2]);
    }
  });

  it("keeps each thread's context as plain data", async () => {
    const k = createKernel({ natives: { "/boot/demo": program } });
    const pid = k.spawn({ path: "/boot/demo" });
    await k.run({ maxInstructions: 2 });
    const hart = k.lwps.get(pid)?.hart as unknown as { ctx: NativeThreadContext };
    expect(JSON.parse(JSON.stringify(hart.ctx))).toEqual(hart.ctx);
    expect(hart.ctx.role).toBe("main");
  });

  it("shows each thread its tp as env.tp: lwp_create's tls, 0 for main; kept across a signal handler", async () => {
    const seen: { role: string; tid: number; tp: number }[] = [];
    const tpProgram: NativeProgram = {
      main: "main",
      threadRoles: ["cpu"],
      handlerRoles: ["onusr1"],
      steps: {
        main(ctx, env) {
          const step = (ctx.state as number | null) ?? 0;
          ctx.state = step + 1;
          if (step === 0) seen.push({ role: "main", tid: env.tid, tp: env.tp });
          if (step < 2)
            return { syscall: nr.SYS_lwp_create, args: [0, 0, 0x2000_0000 + step * 0x1000, step, 0] };
          if (step < 6) return { syscall: nr.SYS_sched_yield };
          return { syscall: nr.SYS_exit_group, args: [0] };
        },
        cpu(ctx, env) {
          if (ctx.state === null) {
            ctx.state = 0;
            seen.push({ role: `cpu${ctx.result}`, tid: env.tid, tp: env.tp });
            return { syscall: nr.SYS_rt_sigaction, args: [SIGUSR1, 0, 0, 8] };
          }
          if (ctx.state === 0) {
            ctx.state = 1;
            return { syscall: nr.SYS_tgkill, args: [env.pid, env.tid, SIGUSR1] };
          }
          seen.push({ role: "after", tid: env.tid, tp: env.tp });
          return { syscall: nr.SYS_exit, args: [0] };
        },
        onusr1(_ctx, env) {
          seen.push({ role: "handler", tid: env.tid, tp: env.tp });
          return { syscall: nr.SYS_rt_sigreturn };
        },
      },
    };
    const k = createKernel({ natives: { "/boot/tp": tpProgram } });
    const pid = k.spawn({ path: "/boot/tp" });
    // Install the handler from the host side: SIGUSR1 → handler role 0.
    const act = k.procs.get(pid)?.sigacts[SIGUSR1];
    if (act !== undefined) act.handler = NATIVE_HANDLER_BASE;
    expect((await k.run()).exitStatus).toBe(0);
    const byTid = (tid: number) =>
      seen.filter((s) => s.tid === tid).map((s) => `${s.role}:${s.tp.toString(16)}`);
    expect(byTid(pid)).toEqual(["main:0"]);
    expect(byTid(pid + 1)).toEqual(["cpu0:20000000", "handler:20000000", "after:20000000"]);
    expect(byTid(pid + 2)).toEqual(["cpu1:20001000", "handler:20001000", "after:20001000"]);
  });

  it("fails lwp_create for an unknown role with EINVAL", async () => {
    const bad: NativeProgram = {
      main: "main",
      steps: {
        main: (ctx) => {
          if (ctx.state !== null) return { syscall: nr.SYS_exit_group, args: [-ctx.result] };
          ctx.state = 1;
          return { syscall: nr.SYS_lwp_create, args: [5, 0, 0, 0, 0] };
        },
      },
    };
    const k = createKernel({ natives: { "/bad": bad } });
    k.spawn({ path: "/bad" });
    expect((await k.run()).exitStatus).toBe(22);
  });
});

describe("native signal handlers", () => {
  const PAGE_AT = 0x5000_0000;
  /**
   * main maps a page, installs a handler role for SIGUSR1, then sleeps in umtx_sleep; the host
   * posts SIGUSR1; the handler writes a line and returns with rt_sigreturn; main sees -EINTR.
   */
  const withHandler: NativeProgram = {
    main: "main",
    initialState: { step: 0, addr: 0 },
    handlerRoles: ["onUsr1"],
    steps: {
      main(ctx, env) {
        const s = st(ctx);
        switch (s.step++) {
          case 0:
            return {
              syscall: nr.SYS_mmap2,
              args: [PAGE_AT, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0],
            };
          case 1: {
            s.addr = ctx.result >>> 0;
            const act = new Uint8Array(16);
            new DataView(act.buffer).setUint32(0, NATIVE_HANDLER_BASE, true);
            env.vm.copyout(s.addr + 512, act);
            return { syscall: nr.SYS_rt_sigaction, args: [SIGUSR1, s.addr + 512, 0, 8] };
          }
          case 2:
            return { syscall: nr.SYS_umtx_sleep, args: [s.addr, 0, 0] };
          case 3:
            return say(env, s.addr + 64, `main: umtx_sleep returned ${ctx.result}\n`);
          default:
            return { syscall: nr.SYS_exit_group, args: [-ctx.result] };
        }
      },
      onUsr1(ctx, env) {
        const info = ctx.state as { signo: number; step?: number };
        if (info.step === undefined) {
          info.step = 1;
          return say(env, PAGE_AT + 0x100, `handler: signal ${ctx.result}\n`);
        }
        return { syscall: nr.SYS_rt_sigreturn };
      },
    },
  };

  it("runs a handler role, then rt_sigreturn resumes the thread with EINTR", async () => {
    const console = new RecordingConsole();
    const k = createKernel({ console, natives: { "/boot/h": withHandler } });
    const pid = k.spawn({ path: "/boot/h" });
    expect((await k.run()).reason).toBe("deadlock");
    k.signalProcess(pid, SIGUSR1);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(console.text()).toBe("handler: signal 10\r\nmain: umtx_sleep returned -4\r\n");
    const hart = k.lwps.get(pid)?.hart as unknown as { ctx: NativeThreadContext };
    expect(hart.ctx.signalFrames).toBeUndefined();
    expect(k.lwps.get(pid)?.sigmask).toBe(0n);
  });
});
