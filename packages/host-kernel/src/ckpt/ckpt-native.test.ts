import { describe, expect, it } from "vitest";
import { createKernel, type Kernel } from "../kernel.ts";
import { RecordingConsole } from "../kernel-test-support.ts";
import { NATIVE_HANDLER_BASE, type NativeProgram, type NativeThreadContext } from "../native/native-types.ts";
import { SIGUSR1 } from "../signal/signal-numbers.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../vm/vm-types.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages } from "./ckpt-test-support.ts";
import { describeKernel, pageBytes } from "./describe.ts";
import { rebuildKernel } from "./rebuild.ts";
import { thawProcess } from "./thaw.ts";

/**
 * A native thread frozen inside a signal handler (as the vkernel's checkpoint handler freezes
 * itself): the contexts the handler interrupted are saved, so its rt_sigreturn after a thaw or a
 * rebuild resumes the interrupted step exactly.
 */

const PAGE_AT = 0x5000_0000;
const PATH = "/boot/h";

function say(env: { vm: { copyout(a: number, b: Uint8Array): number } }, at: number, text: string) {
  const bytes = new TextEncoder().encode(text);
  env.vm.copyout(at, bytes);
  return { syscall: nr.SYS_write, args: [1, at, bytes.length] };
}

/** main sleeps in umtx_sleep; a SIGUSR1 handler writes two lines and returns; main reports EINTR. */
const program: NativeProgram = {
  main: "main",
  initialState: { step: 0 },
  handlerRoles: ["onUsr1"],
  steps: {
    main(ctx, env) {
      const s = ctx.state as { step: number };
      switch (s.step++) {
        case 0:
          return {
            syscall: nr.SYS_mmap2,
            args: [PAGE_AT, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0],
          };
        case 1: {
          const act = new Uint8Array(16);
          new DataView(act.buffer).setUint32(0, NATIVE_HANDLER_BASE, true);
          env.vm.copyout(PAGE_AT + 512, act);
          return { syscall: nr.SYS_rt_sigaction, args: [SIGUSR1, PAGE_AT + 512, 0, 8] };
        }
        case 2:
          return { syscall: nr.SYS_umtx_sleep, args: [PAGE_AT, 0, 0] };
        case 3:
          return say(env, PAGE_AT + 64, `main: umtx_sleep returned ${ctx.result}\n`);
        default:
          return { syscall: nr.SYS_exit_group, args: [7] };
      }
    },
    onUsr1(ctx, env) {
      const info = ctx.state as { signo: number; step?: number };
      info.step = (info.step ?? 0) + 1;
      if (info.step === 1) return say(env, PAGE_AT + 0x100, `handler: signal ${ctx.result}\n`);
      if (info.step === 2) return say(env, PAGE_AT + 0x200, "handler: second step\n");
      return { syscall: nr.SYS_rt_sigreturn };
    },
  },
};

/** A kernel whose main thread is inside the handler (its first step done), and the console. */
async function insideHandler(): Promise<{ k: Kernel; console: RecordingConsole; pid: number }> {
  const console = new RecordingConsole();
  const k = createKernel({ console, natives: { [PATH]: program } });
  const pid = k.spawn({ path: PATH });
  expect((await k.run()).reason).toBe("deadlock");
  k.signalProcess(pid, SIGUSR1);
  const hart = k.lwps.get(pid)?.hart as unknown as { ctx: NativeThreadContext } | undefined;
  if (hart === undefined) throw new Error("no main thread");
  const ctx = hart.ctx;
  while (!(ctx.role === "onUsr1" && (ctx.state as { step?: number }).step === 1))
    await k.run({ stopAt: k.instructions + 1 });
  expect(ctx.signalFrames).toHaveLength(1);
  return { k, console, pid };
}

const EXPECTED = "handler: signal 10\r\nhandler: second step\r\nmain: umtx_sleep returned -4\r\n";

describe("native threads frozen inside a signal handler", () => {
  it("uninterrupted", async () => {
    const { k, console } = await insideHandler();
    expect((await k.run()).exitStatus).toBe(7);
    expect(console.text()).toBe(EXPECTED);
  });

  it("freeze and thaw keep the interrupted context for rt_sigreturn", async () => {
    const { k, console, pid } = await insideHandler();
    const images = memoryImages();
    const w = await createStoreTarget(images).checkpoint(k, pid);
    const after = new RecordingConsole();
    const { kernel } = await thawProcess(images, w.id, { console: after, natives: { [PATH]: program } });
    const r = await kernel.run();
    expect([r.reason, r.exitStatus]).toEqual(["exited", 7]);
    expect(console.text() + after.text()).toBe(EXPECTED);
  });

  it("describeKernel / rebuildKernel keep it too", async () => {
    const { k, console } = await insideHandler();
    const after = new RecordingConsole();
    const kernel = rebuildKernel(describeKernel(k, { pageRef: pageBytes }), {
      console: after,
      natives: { [PATH]: program },
    });
    const r = await kernel.run();
    expect([r.reason, r.exitStatus]).toEqual(["exited", 7]);
    expect(console.text() + after.text()).toBe(EXPECTED);
    expect(() => rebuildKernel(describeKernel(k, { pageRef: pageBytes }), {})).toThrow(
      /native program \/boot\/h is not registered/,
    );
  });
});
