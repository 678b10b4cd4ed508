/**
 * One test per checkpoint-protocol step (ARCHITECTURE §4; DESIGN.md §7): each fails when its
 * step is left out through the internal `testHooks.skipStep` switch.
 */
import { defaultTermios, type Kernel, type Lwp, signals } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { VKERNEL_PANIC } from "./platform/vcpu.ts";
import {
  bootVkernel,
  concat,
  lawCheckpointed,
  lawReference,
  memoryImages,
  type TestGuest,
  thawVkernel,
} from "./vkernel-test-support.ts";

const THREADS: TestGuest = { program: "threads", args: ["3", "1500"] };
const PRIMES: TestGuest = { program: "primes", args: ["3000"] };
const skip = (step: string) => ({ testHooks: { skipStep: [step] } });
const roleOf = (l: Lwp): { role?: string; state?: { cpu?: number; phase?: string } } =>
  (l.hart as unknown as { ctx?: { role?: string; state?: { cpu?: number; phase?: string } } }).ctx ?? {};
const cothread = (k: Kernel, pid: number): Lwp | undefined =>
  k.procs.get(pid)?.lwps.find((l) => roleOf(l).role === "vcons-rx");
const idleVcpu1 = (k: Kernel, pid: number): Lwp | undefined =>
  k.procs.get(pid)?.lwps.find((l) => roleOf(l).role === "vcpu" && roleOf(l).state?.cpu === 1);
/** vCPU 1 of the (only) vkernel process waits for the token or for input. */
const isIdle = (k: Kernel): boolean =>
  [...k.procs.keys()].some((pid) => {
    const vcpu1 = idleVcpu1(k, pid);
    const phase = vcpu1 === undefined ? undefined : roleOf(vcpu1).state?.phase;
    return phase === "token-wait" || phase === "idle";
  });

describe("checkpoint protocol, step by step", () => {
  it("step 1: cothreads block the checkpoint signals from birth (one sent to the rx cothread waits)", async () => {
    const want = await lawReference([PRIMES], { vcpus: 1 });
    for (const [config, blocked] of [
      [{ vcpus: 1 }, true],
      [{ vcpus: 1, ...skip("1") }, false],
    ] as const) {
      const { kernel, pid } = bootVkernel([PRIMES], config);
      await kernel.run({ stopAt: 20_000 });
      const rx = cothread(kernel, pid) as Lwp;
      expect((rx.sigmask >> BigInt(signals.SIGCKPT - 1)) & 1n).toBe(blocked ? 1n : 0n);
      kernel.postSignalLwp(rx, signals.SIGCKPT, { signo: signals.SIGCKPT, code: 0, addr: 0, pid: 0, uid: 0 });
      const r = await kernel.run({ maxInstructions: 400_000_000 });
      // Blocked: it stays pending and the vkernel finishes normally; unblocked: checkpoint code
      // runs on a thread that is no vCPU, and the vkernel panics.
      expect(r.exitStatus).toBe(blocked ? want.status : VKERNEL_PANIC);
    }
  });

  it("step 2: the handler absorbs the frame of the guest its vCPU just ran (else the thawed guest re-runs stale registers)", async () => {
    const want = await lawReference([THREADS], { vcpus: 1 });
    const at = (k: Kernel) => k.instructions > 150_000;
    const good = await lawCheckpointed([THREADS], { vcpus: 1 }, at, "exit");
    expect(good.checkpointed).toBe(true);
    expect(good.digest).toBe(want.digest);
    const bad = await lawCheckpointed([THREADS], { vcpus: 1, ...skip("2") }, at, "exit");
    expect(bad.checkpointed).toBe(true);
    expect(bad.digest).not.toBe(want.digest);
  });

  it("step 3: SIGCKPT on an idle vCPU becomes a kthread (the idle thread never does the work)", async () => {
    // The instant: vCPU 1 waits for the token (an idle phase), past the boot.
    const idle = (k: Kernel) => k.instructions > 20_000 && isIdle(k);
    const good = await lawCheckpointed([PRIMES], { vcpus: 2 }, idle, "exit", idleVcpu1);
    expect(good.checkpointed).toBe(true);
    expect(good.status).toBe((await lawReference([PRIMES], { vcpus: 2 })).status);
    const bad = await lawCheckpointed([PRIMES], { vcpus: 2, ...skip("3") }, idle, "exit", idleVcpu1);
    expect(bad.status).toBe(VKERNEL_PANIC); // kassert(!inIdle)
  });

  it("step 4: stop_cpus parks every other vCPU before the freeze", async () => {
    for (const [config, parked] of [
      [{ vcpus: 4 }, true],
      [{ vcpus: 4, ...skip("4") }, false],
    ] as const) {
      const images = memoryImages();
      const a = bootVkernel([THREADS], config, {}, images);
      await a.kernel.run({ stopAt: 100_000 });
      a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
      await a.kernel.run({ maxInstructions: 400_000_000 });
      const b = await thawVkernel(images);
      const vcpus = [...b.kernel.procs.values()][0]?.lwps.filter((l) => roleOf(l).role === "vcpu") ?? [];
      expect(vcpus.length).toBe(3); // the fourth runs the protocol in its handler
      expect(vcpus.every((l) => roleOf(l).state?.phase === "parked")).toBe(parked);
    }
  });

  it("step 5: the kernel state is serialized into vmspace0 (else the thaw has nothing to rebuild)", async () => {
    const want = await lawReference([THREADS], { vcpus: 1 });
    const at = (k: Kernel) => k.instructions > 100_000;
    expect((await lawCheckpointed([THREADS], { vcpus: 1 }, at, "exit")).status).toBe(want.status);
    expect((await lawCheckpointed([THREADS], { vcpus: 1, ...skip("5") }, at, "exit")).status).toBe(
      VKERNEL_PANIC,
    );
  });

  it("step 6: sys_checkpoint(FREEZE) writes the image", async () => {
    const at = (k: Kernel) => k.instructions > 100_000;
    expect((await lawCheckpointed([THREADS], { vcpus: 1 }, at, "continue")).checkpointed).toBe(true);
    expect((await lawCheckpointed([THREADS], { vcpus: 1, ...skip("6") }, at, "continue")).checkpointed).toBe(
      false,
    );
  });

  it("step 7: the console mode is restored after a thaw onto a cooked tty", async () => {
    const dec = new TextDecoder();
    const want = await lawReference([THREADS], { vcpus: 2 });
    for (const [config, restored] of [
      [{ vcpus: 2 }, true],
      [{ vcpus: 2, ...skip("7") }, false],
    ] as const) {
      const images = memoryImages();
      const a = bootVkernel([THREADS], config, {}, images);
      await a.kernel.run({ stopAt: 100_000 });
      a.kernel.signalProcess(a.pid, signals.SIGCKPTEXIT);
      await a.kernel.run({ maxInstructions: 400_000_000 });
      const b = await thawVkernel(images);
      b.kernel.tty.termios = defaultTermios(); // a real terminal in its usual cooked mode
      const r = await b.kernel.run({ maxInstructions: 400_000_000 });
      expect(r.exitStatus).toBe(want.status);
      const out = dec.decode(concat([...a.chunks, ...b.chunks]));
      if (restored) expect(out).toBe(want.out);
      else expect(out).not.toBe(want.out); // the host tty's OPOST doubled every \r
    }
  });

  it("step 7: restart_cpus lets the parked vCPUs run again (else the host reports a deadlock)", async () => {
    const { kernel, pid } = bootVkernel([THREADS], { vcpus: 2, ...skip("7-restart") });
    await kernel.run({ stopAt: 100_000 });
    kernel.signalProcess(pid, signals.SIGCKPT);
    const r = await kernel.run({ maxInstructions: 400_000_000 });
    expect(r.reason).toBe("deadlock");
  });
});
