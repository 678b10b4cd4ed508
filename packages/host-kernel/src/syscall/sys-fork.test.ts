import { describe, expect, it } from "vitest";
import { PipeReadOps } from "../fs/pipe.ts";
import { guestProgram } from "../guest-programs.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { NativeHart } from "../native/native-hart.ts";
import {
  NATIVE_HANDLER_BASE,
  type NativeAction,
  type NativeEnv,
  type NativeProgram,
  type NativeStep,
} from "../native/native-types.ts";
import type { SigInfo } from "../proc/proc-types.ts";
import { encodeFrame } from "../signal/signal-frame.ts";
import { SA_RESTART, SIGCHLD, SIGKILL, SIGUSR1 } from "../signal/signal-numbers.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../vm/vm-types.ts";
import {
  CLD_EXITED,
  CLD_KILLED,
  P_ALL,
  P_PGID,
  P_PID,
  SA_NOCLDWAIT,
  WEXITED,
  WNOHANG,
  WNOWAIT,
} from "./sys-fork.ts";
import * as nr from "./syscall-numbers.ts";

/**
 * Fork and wait, driven by native programs written as scripts: each role is a list of ops; an op
 * sees the previous call's result `r` and the thread's variables `v` (plain data, so a fork
 * copies them with the thread), and returns the next syscall or `{ goto: role }`.
 */
type Vars = Record<string, number>;
type Op = (r: number, v: Vars, env: NativeEnv) => NativeAction | { goto: string };

function scripted(
  roles: Record<string, Op[]>,
  handlers: Record<string, (state: Vars) => void> = {},
): NativeProgram {
  const names = Object.keys(handlers);
  const steps: Record<string, NativeStep> = {};
  const run = (ctx: { role: string; state: unknown; result: number }, env: NativeEnv): NativeAction => {
    for (;;) {
      const s = ctx.state as { i: number; v: Vars };
      const op = roles[ctx.role]?.[s.i];
      s.i += 1;
      if (op === undefined) return { syscall: nr.SYS_exit_group, args: [0] };
      const a = op(ctx.result, s.v, env);
      if (!("goto" in a)) return a;
      ctx.role = a.goto;
      s.i = 0;
    }
  };
  for (const role of Object.keys(roles)) steps[role] = run;
  for (const name of names) {
    steps[name] = (ctx) => {
      handlers[name]?.(ctx.state as Vars);
      return { syscall: nr.SYS_rt_sigreturn };
    };
  }
  return { main: "main", initialState: { i: 0, v: {} }, steps, handlerRoles: names };
}

const call =
  (syscall: number, ...args: number[]): Op =>
  () => ({ syscall, args });
/** Store the previous result in v[name], then do `next`. */
const keep =
  (name: string, next: Op): Op =>
  (r, v, env) => {
    v[name] = r;
    return next(r, v, env);
  };
/** The page mmap returned (an address: unsigned). */
const mem = (v: Vars): number => v.mem ?? 0;
/** After `mmap`: remember the page, then do `next`. */
const withMem =
  (next: Op): Op =>
  (r, v, env) => {
    v.mem = r >>> 0;
    return next(r, v, env);
  };
const exit = (code: number): NativeAction => ({ syscall: nr.SYS_exit_group, args: [code] });
const mmap: Op = () => ({
  syscall: nr.SYS_mmap2,
  args: [0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0],
});
const fork: Op = () => ({ syscall: nr.SYS_clone, args: [SIGCHLD, 0, 0, 0, 0] });
/** After `fork`: the child continues in role `child`, the parent stores the pid in v.child. */
const split =
  (child: string, name = "child"): Op =>
  (r, v) => {
    if (r === 0) return { goto: child };
    v[name] = r;
    return { syscall: nr.SYS_getpid };
  };
/** Memory layout inside v.mem: PIPE fds at 0x10, a byte buffer at 0x20, siginfo at 0x40, sigaction at 0x80. */
const PIPE = 0x10;
const BUF = 0x20;
const INFO = 0x40;
const ACT = 0x80;
const u32 = (env: NativeEnv, addr: number): number => (env.vm.readU32(addr) ?? 0xdead) | 0;
const waitid = (idtype: number, id: (v: Vars) => number, options: number): Op => {
  return (_r, v) => ({ syscall: nr.SYS_waitid, args: [idtype, id(v), mem(v) + INFO, options, 0] });
};
/** Record waitid's result and siginfo (si_signo, si_code, si_pid, si_status) under `name`. */
const saveWait =
  (name: string, next: Op): Op =>
  (r, v, env) => {
    const b = mem(v) + INFO;
    v[`${name}.ret`] = r | 0;
    v[`${name}.signo`] = u32(env, b);
    v[`${name}.code`] = u32(env, b + 8);
    v[`${name}.pid`] = u32(env, b + 12);
    v[`${name}.status`] = u32(env, b + 20);
    return next(r, v, env);
  };
const pipeFd = (env: NativeEnv, v: Vars, end: 0 | 1): number => u32(env, mem(v) + PIPE + 4 * end);
const sigaction =
  (sig: number, handler: number, flags: number): Op =>
  (_r, v, env) => {
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setUint32(0, handler, true);
    d.setUint32(4, flags, true);
    env.vm.copyout(mem(v) + ACT, b);
    return { syscall: nr.SYS_rt_sigaction, args: [sig, mem(v) + ACT, 0, 8] };
  };

function start(program: NativeProgram, cpus = 1): { k: Kernel; pid: number; vars: () => Vars } {
  const k = createKernel({ cpus, seed: 3, natives: { "/bin/script": program } });
  const pid = k.spawn({ path: "/bin/script" });
  const vars = (): Vars => {
    const h = k.lwps.get(pid)?.hart;
    return h instanceof NativeHart ? (h.ctx.state as { v: Vars }).v : {};
  };
  return { k, pid, vars };
}

describe("clone (fork form)", () => {
  it("copies the caller: the child gets 0, the parent its pid; memory is copy-on-write both ways", async () => {
    let child: Record<string, number> = {};
    let k: Kernel | null = null;
    const program = scripted({
      main: [
        mmap,
        (r, v, env) => {
          v.mem = r >>> 0;
          env.vm.writeU32(v.mem, 111);
          return { syscall: nr.SYS_pipe2, args: [v.mem + PIPE, 0] };
        },
        call(nr.SYS_getpid),
        keep("me", fork),
        split("child"),
        (_r, v, env) => {
          env.vm.writeU32(v.mem ?? 0, 222); // after the fork: the child must not see it
          return { syscall: nr.SYS_write, args: [pipeFd(env, v, 1), mem(v) + BUF, 1] };
        },
        waitid(P_PID, (v) => v.child ?? 0, WEXITED),
        saveWait("w", (_r, v, env) => {
          v.after = u32(env, v.mem ?? 0);
          return exit(0);
        }),
      ],
      child: [
        (r, v, env) => {
          v.forkResult = r;
          return { syscall: nr.SYS_read, args: [pipeFd(env, v, 0), mem(v) + BUF, 1] };
        },
        (_r, v, env) => {
          v.seen = u32(env, v.mem ?? 0);
          env.vm.writeU32(v.mem ?? 0, 333); // the parent must not see this either
          return { syscall: nr.SYS_getppid };
        },
        (r, v, env) => {
          const me = k?.procs.get(env.pid);
          const parent = k?.procs.get(v.me ?? 0);
          child = {
            ...v,
            ppid: r,
            pid: env.pid,
            samePgid: me?.pgid === parent?.pgid && me?.sid === parent?.sid ? 1 : 0,
            lwps: me?.lwps.length ?? 0,
          };
          return exit(v.seen === 111 ? 42 : 1);
        },
      ],
    });
    const s = start(program);
    k = s.k;
    const result = await s.k.run();
    expect(result.reason).toBe("exited");
    const v = s.vars();
    expect(child.forkResult).toBe(0);
    expect(child.pid).toBe(v.child);
    expect(child.ppid).toBe(s.pid);
    expect(child.samePgid).toBe(1);
    expect(child.lwps).toBe(1);
    expect(child.seen).toBe(111);
    expect(v.after).toBe(222);
    expect(v["w.ret"]).toBe(0);
    expect([v["w.signo"], v["w.code"], v["w.pid"], v["w.status"]]).toEqual([
      SIGCHLD,
      CLD_EXITED,
      v.child,
      42,
    ]);
    // Reaped: gone from the kernel, its memory freed.
    expect(s.k.procs.has(v.child ?? 0)).toBe(false);
    expect(s.k.lwps.has(v.child ?? 0)).toBe(false);
  });

  it("keeps only the calling thread's mask, copies sigacts, clears pending signals", async () => {
    let seen: { mask: bigint; handler: number; pending: bigint } | null = null;
    let k: Kernel | null = null;
    const program = scripted(
      {
        main: [
          mmap,
          withMem(sigaction(SIGUSR1, NATIVE_HANDLER_BASE, 0)),
          (_r, v, env) => {
            env.vm.copyout(mem(v) + BUF, new Uint8Array([0, 8, 0, 0, 0, 0, 0, 0])); // block SIGUSR2 (bit 11)
            return { syscall: nr.SYS_rt_sigprocmask, args: [0, mem(v) + BUF, 0, 8] };
          },
          call(nr.SYS_getpid),
          (r) => ({ syscall: nr.SYS_tgkill, args: [r, r, 12] }), // SIGUSR2: stays pending (blocked)
          fork,
          split("child"),
          (_r, v) => ({ syscall: nr.SYS_waitid, args: [P_ALL, 0, mem(v) + INFO, WEXITED, 0] }),
          () => exit(0),
        ],
        child: [
          (_r, _v, env) => {
            const l = k?.lwps.get(env.tid);
            const p = k?.procs.get(env.pid);
            seen = {
              mask: l?.sigmask ?? -1n,
              handler: p?.sigacts[SIGUSR1]?.handler ?? -1,
              pending: (l?.pending ?? -1n) | (p?.pending ?? -1n),
            };
            return exit(0);
          },
        ],
      },
      { onusr1: () => {} },
    );
    const s = start(program);
    k = s.k;
    await s.k.run();
    expect(seen).toEqual({ mask: 1n << 11n, handler: NATIVE_HANDLER_BASE, pending: 0n });
  });

  it("refuses flags other than SIGCHLD with EINVAL", async () => {
    const s = start(
      scripted({
        main: [
          call(nr.SYS_clone, 0x100 | SIGCHLD),
          keep("vm", call(nr.SYS_clone, 0)),
          keep("none", () => exit(0)),
        ],
      }),
    );
    await s.k.run();
    expect([s.vars().vm, s.vars().none]).toEqual([-22, -22]);
    expect(s.k.procs.size).toBe(1);
  });
});

describe("descriptors across fork", () => {
  it("shares open file descriptions: a pipe reads EOF only after the parent's and the child's write ends close", async () => {
    let refsAfterFork = 0;
    let k: Kernel | null = null;
    const program = scripted({
      main: [
        mmap,
        (r, v) => {
          v.mem = r >>> 0;
          return { syscall: nr.SYS_pipe2, args: [v.mem + PIPE, 0] };
        },
        fork,
        split("child"),
        (_r, v, env) => {
          const read = k?.procs.get(env.pid)?.fds.get(pipeFd(env, v, 0));
          refsAfterFork = read?.refs ?? 0;
          return { syscall: nr.SYS_close, args: [pipeFd(env, v, 1)] };
        },
        (_r, v, env) => ({ syscall: nr.SYS_read, args: [pipeFd(env, v, 0), mem(v) + BUF, 8] }),
        (r, v, env) => {
          v.first = r;
          v.byte = (env.vm.copyin(mem(v) + BUF, 1) as Uint8Array)[0] ?? 0;
          return { syscall: nr.SYS_read, args: [pipeFd(env, v, 0), mem(v) + BUF, 8] };
        },
        (r, v) => {
          v.eof = r;
          return { syscall: nr.SYS_waitid, args: [P_ALL, 0, 0, WEXITED, 0] };
        },
        () => exit(0),
      ],
      child: [
        (_r, v, env) => ({ syscall: nr.SYS_close, args: [pipeFd(env, v, 0)] }),
        call(nr.SYS_sched_yield),
        call(nr.SYS_sched_yield),
        (_r, v, env) => {
          env.vm.copyout(mem(v) + BUF, new Uint8Array([0x78]));
          return { syscall: nr.SYS_write, args: [pipeFd(env, v, 1), mem(v) + BUF, 1] };
        },
        call(nr.SYS_sched_yield),
        (_r, v, env) => ({ syscall: nr.SYS_close, args: [pipeFd(env, v, 1)] }),
        () => exit(0),
      ],
    });
    const s = start(program);
    k = s.k;
    expect((await s.k.run()).reason).toBe("exited");
    expect(refsAfterFork).toBe(2);
    expect([s.vars().first, s.vars().byte, s.vars().eof]).toEqual([1, 0x78, 0]);
    const pipes = [...s.k.procs.values()].flatMap((p) => p.fds.open().map((fd) => p.fds.get(fd)?.ops));
    expect(pipes.some((o) => o instanceof PipeReadOps)).toBe(false);
  });
});

describe("waitid", () => {
  /** main forks three children that exit with 10, 20, 30 after 3, 2, 1 yields (so they end in reverse). */
  function threeChildren(tail: Op[]): NativeProgram {
    const child = (n: number): Op[] => [
      ...Array.from({ length: 4 - n }, () => call(nr.SYS_sched_yield)),
      () => exit(10 * n),
    ];
    return scripted({
      main: [
        mmap,
        withMem(fork),
        split("c1", "c1"),
        fork,
        split("c2", "c2"),
        fork,
        split("c3", "c3"),
        ...tail,
      ],
      c1: child(1),
      c2: child(2),
      c3: child(3),
    });
  }

  it("waits for each child in the order asked, whatever order they exit in; then ECHILD", async () => {
    const s = start(
      threeChildren([
        waitid(P_PID, (v) => v.c1 ?? 0, WEXITED),
        saveWait(
          "a",
          waitid(P_PID, (v) => v.c2 ?? 0, WEXITED),
        ),
        saveWait(
          "b",
          waitid(P_PID, (v) => v.c3 ?? 0, WEXITED),
        ),
        saveWait(
          "c",
          waitid(P_ALL, () => 0, WEXITED),
        ),
        saveWait("d", () => exit(0)),
      ]),
    );
    expect((await s.k.run()).exitStatus).toBe(0);
    const v = s.vars();
    expect([v["a.pid"], v["a.status"], v["b.pid"], v["b.status"], v["c.pid"], v["c.status"]]).toEqual([
      v.c1,
      10,
      v.c2,
      20,
      v.c3,
      30,
    ]);
    expect(v["d.ret"]).toBe(-10); // ECHILD
    expect(s.k.procs.size).toBe(1);
  });

  it("WNOHANG returns 0 with a zeroed siginfo while children run; P_ALL takes the lowest exited pid", async () => {
    const s = start(
      threeChildren([
        (_r, v, env) => {
          env.vm.copyout(mem(v) + INFO, new Uint8Array(24).fill(0xff));
          return { syscall: nr.SYS_waitid, args: [P_ALL, 0, mem(v) + INFO, WEXITED | WNOHANG, 0] };
        },
        saveWait("early", call(nr.SYS_waitid, P_ALL, 0, 0, WEXITED | WNOWAIT, 0)),
        keep(
          "nowait",
          waitid(P_PID, (v) => v.c1 ?? 0, WEXITED | WNOWAIT),
        ),
        waitid(P_PID, (v) => v.c2 ?? 0, WEXITED | WNOWAIT),
        waitid(P_PID, (v) => v.c3 ?? 0, WEXITED | WNOWAIT),
        waitid(P_ALL, () => 0, WEXITED),
        saveWait(
          "any",
          waitid(P_PGID, () => 0, WEXITED),
        ),
        saveWait("group", () => exit(0)),
      ]),
    );
    await s.k.run();
    const v = s.vars();
    expect([v["early.ret"], v["early.signo"], v["early.pid"], v["early.status"]]).toEqual([0, 0, 0, 0]);
    expect(v.nowait).toBe(0);
    // By now all three have exited: the lowest pid (c1) first, then c2 by the caller's group.
    expect([v["any.pid"], v["group.pid"]]).toEqual([v.c1, v.c2]);
  });

  it("rejects bad arguments: EINVAL for options or ids, ECHILD for a process that is not a child", async () => {
    const s = start(
      scripted({
        main: [
          call(nr.SYS_waitid, P_ALL, 0, 0, WNOHANG, 0),
          keep("noExited", call(nr.SYS_waitid, P_PID, 0, 0, WEXITED, 0)),
          keep("pid0", call(nr.SYS_waitid, 7, 1, 0, WEXITED, 0)),
          keep("idtype", call(nr.SYS_getpid)),
          keep("me", (r) => ({ syscall: nr.SYS_waitid, args: [P_PID, r, 0, WEXITED, 0] })),
          keep("self", call(nr.SYS_waitid, P_ALL, 0, 0, WEXITED, 0)),
          keep("none", () => exit(0)),
        ],
      }),
    );
    await s.k.run();
    const v = s.vars();
    expect([v.noExited, v.pid0, v.idtype, v.self, v.none]).toEqual([-22, -22, -22, -10, -10]);
  });

  it("keeps a zombie with its status until it is reaped; WNOWAIT leaves it there", async () => {
    let zombie: { state: string; status: number | null } | null = null;
    let k: Kernel | null = null;
    const program = scripted({
      main: [
        mmap,
        withMem(fork),
        split("child"),
        waitid(P_PID, (v) => v.child ?? 0, WEXITED | WNOWAIT),
        saveWait("peek", (_r, v) => {
          const p = k?.procs.get(v.child ?? 0);
          zombie = { state: p?.state ?? "gone", status: p?.exitStatus ?? null };
          return { syscall: nr.SYS_waitid, args: [P_PID, v.child ?? 0, mem(v) + INFO, WEXITED, 0] };
        }),
        saveWait("reap", () => exit(0)),
      ],
      child: [() => exit(7)],
    });
    const s = start(program);
    k = s.k;
    await s.k.run();
    expect(zombie).toEqual({ state: "zombie", status: 7 });
    expect([s.vars()["peek.status"], s.vars()["reap.status"]]).toEqual([7, 7]);
    expect(s.k.procs.has(s.vars().child ?? 0)).toBe(false);
  });

  it("reports a child killed by a signal as CLD_KILLED with the signal (kill across processes)", async () => {
    const s = start(
      scripted({
        main: [
          mmap,
          withMem(fork),
          split("child"),
          (_r, v) => ({ syscall: nr.SYS_kill, args: [v.child ?? 0, SIGKILL] }),
          keep(
            "kill",
            waitid(P_PID, (x) => x.child ?? 0, WEXITED),
          ),
          saveWait("w", () => exit(0)),
        ],
        child: [call(nr.SYS_sched_yield), () => ({ goto: "child" })],
      }),
    );
    await s.k.run();
    const v = s.vars();
    expect(v.kill).toBe(0);
    expect([v["w.code"], v["w.status"], v["w.pid"]]).toEqual([CLD_KILLED, SIGKILL, v.child]);
  });
});

describe("wait and signals", () => {
  /** main blocks in waitid; the child sends it SIGUSR1 first (caught with `flags`), then exits 5. */
  function interrupted(flags: number, seen: Vars[]): NativeProgram {
    return scripted(
      {
        main: [
          mmap,
          withMem(sigaction(SIGUSR1, NATIVE_HANDLER_BASE, flags)),
          fork,
          split("child"),
          waitid(P_PID, (v) => v.child ?? 0, WEXITED),
          saveWait("w", () => exit(0)),
        ],
        child: [
          call(nr.SYS_sched_yield),
          call(nr.SYS_getppid),
          (r) => ({ syscall: nr.SYS_kill, args: [r, SIGUSR1] }),
          call(nr.SYS_sched_yield),
          () => exit(5),
        ],
      },
      { onusr1: (state) => seen.push({ ...state }) },
    );
  }

  it("a handler without SA_RESTART interrupts a blocked waitid with EINTR", async () => {
    const seen: Vars[] = [];
    const s = start(interrupted(0, seen));
    await s.k.run();
    expect(seen.map((x) => x.signo)).toEqual([SIGUSR1]);
    expect(s.vars()["w.ret"]).toBe(-4);
  });

  it("with SA_RESTART the waitid restarts and returns the child", async () => {
    const seen: Vars[] = [];
    const s = start(interrupted(SA_RESTART, seen));
    await s.k.run();
    expect(seen.map((x) => x.signo)).toEqual([SIGUSR1]);
    expect([s.vars()["w.ret"], s.vars()["w.status"]]).toEqual([0, 5]);
  });

  it("SIGCHLD is ignored by default; a handler gets CLD_EXITED and the child's pid, and the wait still returns it", async () => {
    const seen: Vars[] = [];
    const program = scripted(
      {
        main: [
          mmap,
          withMem(sigaction(SIGCHLD, NATIVE_HANDLER_BASE, 0)),
          fork,
          split("child"),
          waitid(P_PID, (v) => v.child ?? 0, WEXITED),
          saveWait("w", () => exit(0)),
        ],
        child: [call(nr.SYS_sched_yield), () => exit(9)],
      },
      { onchld: (state) => seen.push({ ...state }) },
    );
    const s = start(program);
    await s.k.run();
    expect(seen).toEqual([{ signo: SIGCHLD, code: CLD_EXITED, addr: 0, pid: s.vars().child }]);
    // Woken by the exit before the signal arrives: the call restarts and finds the zombie (as Linux).
    expect([s.vars()["w.ret"], s.vars()["w.status"]]).toEqual([0, 9]);

    // Default action: nothing pending, nothing delivered.
    const quiet = start(
      scripted({
        main: [fork, split("child"), call(nr.SYS_waitid, P_ALL, 0, 0, WEXITED, 0), () => exit(0)],
        child: [() => exit(1)],
      }),
    );
    expect((await quiet.k.run()).exitStatus).toBe(0);
    expect(quiet.k.procs.get(quiet.pid)?.pending).toBe(0n);
  });
});

describe("SIGCHLD's siginfo", () => {
  it("carries the child's pid, CLD_EXITED and si_status (@20 in the frame)", async () => {
    const program = scripted(
      {
        main: [
          mmap,
          withMem((_r, v, env) => {
            env.vm.copyout(mem(v) + BUF, new Uint8Array([0, 0, 1, 0, 0, 0, 0, 0])); // block SIGCHLD (bit 16)
            return { syscall: nr.SYS_rt_sigprocmask, args: [0, mem(v) + BUF, 0, 8] };
          }),
          fork,
          split("child"),
          waitid(P_PID, (v) => v.child ?? 0, WEXITED | WNOWAIT),
          () => exit(0),
        ],
        child: [() => exit(9)],
      },
      { onchld: () => {} },
    );
    const k = createKernel({ natives: { "/bin/script": program } });
    const pid = k.spawn({ path: "/bin/script" });
    const act = k.procs.get(pid)?.sigacts[SIGCHLD];
    if (act !== undefined) act.handler = NATIVE_HANDLER_BASE; // caught (a default SIGCHLD is discarded at once)
    await k.run();
    const info = k.procs.get(pid)?.pendingInfo.get(SIGCHLD);
    expect(info).toMatchObject({ signo: SIGCHLD, code: CLD_EXITED, status: 9 });
    const frame = new DataView(
      encodeFrame(info as SigInfo, { x: new Array(32).fill(0), pc: 0 }, 0n, {
        sp: 0,
        size: 0,
        flags: 2,
      }).buffer,
    );
    expect([frame.getInt32(8, true), frame.getInt32(12, true), frame.getInt32(20, true)]).toEqual([
      CLD_EXITED,
      info?.pid,
      9,
    ]);
  });
});

describe("SIGCHLD set to SIG_IGN (or SA_NOCLDWAIT)", () => {
  for (const [name, handler, flags] of [
    ["SIG_IGN", 1, 0],
    ["SA_NOCLDWAIT", NATIVE_HANDLER_BASE, SA_NOCLDWAIT],
  ] as const) {
    it(`${name}: children leave no zombie; waitid sleeps until the last is gone, then ECHILD`, async () => {
      let zombies = -1;
      let k: Kernel | null = null;
      const program = scripted(
        {
          main: [
            mmap,
            withMem(sigaction(SIGCHLD, handler, flags)),
            fork,
            split("c1", "c1"),
            fork,
            split("c2", "c2"),
            call(nr.SYS_waitid, P_ALL, 0, 0, WEXITED, 0),
            keep("wait", () => {
              zombies = [...(k?.procs.values() ?? [])].filter((p) => p.state === "zombie").length;
              return exit(0);
            }),
          ],
          c1: [call(nr.SYS_sched_yield), () => exit(1)],
          c2: [call(nr.SYS_sched_yield), call(nr.SYS_sched_yield), () => exit(2)],
        },
        { onchld: () => {} },
      );
      const s = start(program);
      k = s.k;
      await s.k.run();
      expect(s.vars().wait).toBe(-10);
      expect(zombies).toBe(0);
      expect(s.k.procs.size).toBe(1);
    });
  }
});

describe("orphans", () => {
  it("go to init when their parent exits, and init reaps them", async () => {
    let grandchildPpid = -1;
    const program = scripted({
      main: [
        mmap,
        withMem(fork),
        split("middle"),
        waitid(P_PID, (v) => v.child ?? 0, WEXITED),
        saveWait(
          "middle",
          waitid(P_ALL, () => 0, WEXITED),
        ),
        saveWait("grandchild", () => exit(0)),
      ],
      middle: [fork, split("grandchild", "grandchild"), (_r, v) => exit((v.grandchild ?? 0) & 0xff)],
      grandchild: [
        ...Array.from({ length: 6 }, () => call(nr.SYS_sched_yield)),
        call(nr.SYS_getppid),
        (r) => {
          grandchildPpid = r;
          return exit(3);
        },
      ],
    });
    const s = start(program, 2);
    expect((await s.k.run()).exitStatus).toBe(0);
    const v = s.vars();
    expect(grandchildPpid).toBe(s.pid);
    expect(v["grandchild.pid"]).toBe(v["middle.status"]); // the middle process exited with its child's pid
    expect(v["grandchild.status"]).toBe(3);
    expect(s.k.procs.size).toBe(1);
  });

  it("outliving init: the run ends with init's status; they are auto-reaped if they exit later", async () => {
    const program = scripted({
      main: [fork, split("child"), fork, split("quick", "quick"), () => exit(4)],
      child: [call(nr.SYS_sched_yield), () => ({ goto: "child" })],
      quick: [() => exit(0)],
    });
    const s = start(program);
    const result = await s.k.run();
    expect(result.reason).toBe("exited");
    expect(result.exitStatus).toBe(4);
    const orphan = s.k.procs.get(s.vars().child ?? 0);
    expect(orphan?.state).toBe("alive");
    expect([orphan?.ppid, orphan?.autoReap]).toEqual([0, true]);
    if (orphan !== undefined) s.k.exitProcess(orphan, 0);
    expect(s.k.procs.has(s.vars().child ?? 0)).toBe(false);
    expect(s.k.procs.get(s.pid)?.exitStatus).toBe(4);
  });
});

describe("forkdemo (RISC-V)", () => {
  const elf = guestProgram("forkdemo");
  async function digest(cpus: number, seed: number): Promise<string> {
    const k = createKernel({ cpus, seed });
    k.spawn({ path: "/bin/forkdemo", elf, argv: ["forkdemo", "1"] });
    const r = await k.run();
    expect([r.reason, r.exitStatus]).toEqual(["exited", 0]);
    return r.digest;
  }

  for (const cpus of [1, 2, 4]) {
    it(`gives the same digest twice for the same seed on ${cpus} CPU(s)`, async () => {
      expect(await digest(cpus, 11)).toBe(await digest(cpus, 11));
    });
  }
});
