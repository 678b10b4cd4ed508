import {
  type NativeAction,
  type NativeEnv,
  type NativeState,
  type NativeThreadContext,
  signals,
  syscalls,
} from "@vkc/host-kernel";
import { vconsSetMode } from "../dev/vcons.ts";
import { vkeResumeStep, vkeSaveStep } from "../dev/vke-ckpt.ts";
import {
  PCPU_KTHREAD,
  PCPU_TOKEN,
  pcpuAddr,
  SH_CKPT_EXIT,
  SH_CKPT_OWNER,
  SH_DOORBELL,
  SH_RESTART_GEN,
  SH_SCRATCH,
  SH_STOP_GEN,
  SH_STOPPED,
  SHARED_BASE,
  STATE_BASE,
} from "../memimage-layout.ts";
import { absorbFrame, VKERNEL_PANIC } from "../platform/vcpu.ts";
import { attach, type VkernelInstance } from "../vkernel-instance.ts";
import { resumeThawed } from "./ckpt-restore.ts";
import { describeVkernel } from "./ckpt-state.ts";
import { encodeStateRegion, STATE_HEADER_BYTES } from "./state-region.ts";

const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });
const SH = (o: number): number => SHARED_BASE + o;
/** sys_checkpoint type FREEZE. */
const CKPT_FREEZE = 1;
/** Phases of a vCPU that is its idle thread (sleeping for the token or for input). */
const IDLE_PHASES = new Set(["idle", "token-wait"]);

/** The checkpoint protocol's progress (plain data: it is frozen with the thread that runs it). */
export interface CkptMachine {
  stage: string;
  signo: number;
  /** The vCPU running it. */
  cpu: number;
  /** Next vCPU to wake (stop_cpus). */
  i: number;
}

/** True while a stop_cpus is in effect (other vCPUs must park). */
export function cpusStopped(env: NativeEnv): boolean {
  return env.vm.readU32(SH(SH_STOP_GEN)) !== env.vm.readU32(SH(SH_RESTART_GEN));
}

/** The vCPU running the protocol (it does not park), or -1. */
export function ckptOwner(env: NativeEnv): number {
  return (env.vm.readU32(SH(SH_CKPT_OWNER)) ?? 0) - 1;
}

const skipped = (vk: VkernelInstance, step: string): boolean =>
  vk.config.testHooks?.skipStep?.includes(step) ?? false;

/**
 * One step of the checkpoint protocol (ARCHITECTURE §4 steps 4-7, DESIGN.md §5), run by the
 * SIGCKPT handler or by the kthread an idle vCPU runs for it. Returns the next host call, or null
 * when the protocol is over.
 */
export function ckptMachineStep(m: CkptMachine, r: number, env: NativeEnv): NativeAction | null {
  const vm = env.vm;
  const vk = attach(vm) ?? resumeThawed(env);
  if (vk === undefined) return act(syscalls.SYS_exit_group, VKERNEL_PANIC);
  const n = vk.config.vcpus;
  switch (m.stage) {
    case "begin": {
      vm.writeU32(SH(SH_CKPT_OWNER), m.cpu + 1);
      // Step 4: stop_cpus — every other vCPU parks outside guest context.
      if (n === 1 || skipped(vk, "4")) {
        m.stage = "serialize";
        return ckptMachineStep(m, r, env);
      }
      vm.writeU32(SH(SH_STOPPED), 0);
      vm.writeU32(SH(SH_STOP_GEN), ((vm.readU32(SH(SH_STOP_GEN)) ?? 0) + 1) >>> 0);
      m.stage = "wake";
      m.i = 0;
      return ckptMachineStep(m, r, env);
    }
    case "wake": {
      while (m.i < n && m.i === m.cpu) m.i++;
      // Change each word before waking its sleepers: a sleep the host restarts (its LWP was
      // interrupted by the very signal we handle) then finds a new value and returns at once.
      if (m.i < n) {
        const cpu = m.i++;
        const token = pcpuAddr(cpu) + PCPU_TOKEN;
        if (vm.readU32(token) !== 1) vm.writeU32(token, 2);
        return act(syscalls.SYS_umtx_wakeup, token, 0);
      }
      m.stage = "wait";
      vm.writeU32(SH(SH_DOORBELL), ((vm.readU32(SH(SH_DOORBELL)) ?? 0) + 1) >>> 0);
      return act(syscalls.SYS_umtx_wakeup, SH(SH_DOORBELL), 0);
    }
    case "wait": {
      const k = vm.readU32(SH(SH_STOPPED)) ?? 0;
      if (k < n - 1) return act(syscalls.SYS_umtx_sleep, SH(SH_STOPPED), k, 0);
      m.stage = "serialize";
      return ckptMachineStep(m, r, env);
    }
    case "serialize": {
      // Step 5, vke: pause, drain the host taps into the rx rings, close them (dev/vke-ckpt.ts).
      const dev = vkeSaveStep(vk, env, r);
      if (dev !== null) return dev;
      // Step 5: the vcons mode is part of the state; serialize the kernel into vmspace0.
      if (!skipped(vk, "5")) {
        const header = vm.copyin(STATE_BASE, STATE_HEADER_BYTES);
        const generation = typeof header === "number" ? 0 : new DataView(header.buffer).getUint32(8, true);
        const region = encodeStateRegion(describeVkernel(vk), generation + 1);
        if (vm.copyout(STATE_BASE + STATE_HEADER_BYTES, region.payload) !== 0)
          return act(syscalls.SYS_exit_group, VKERNEL_PANIC);
        vm.copyout(STATE_BASE, region.header);
      }
      // Step 6: FREEZE. The host saves vmspace0, memimage and every LWP, not the guest vmspaces.
      m.stage = "frozen";
      if (skipped(vk, "6")) return act(syscalls.SYS_getpid);
      return act(syscalls.SYS_checkpoint, CKPT_FREEZE, -1, -1, 1);
    }
    case "frozen": {
      // Step 7. r: 0 continue, 1 thawed (the kernel was rebuilt by `attach` missing), < 0 failed.
      const upgraded = vm.readU32(SH(SH_CKPT_EXIT)) === 1;
      vm.writeU32(SH(SH_CKPT_EXIT), 0);
      if ((m.signo === signals.SIGCKPTEXIT || upgraded) && r === 0 && !skipped(vk, "6"))
        return act(syscalls.SYS_exit_group, 128 + signals.SIGCKPTEXIT);
      m.stage = "vke";
      return ckptMachineStep(m, r, env);
    }
    case "vke": {
      // Step 7, vke: reopen and reconfigure the host taps, resume the cothreads (dev/vke-ckpt.ts).
      const dev = vkeResumeStep(vk, env, r);
      if (dev !== null) return dev;
      m.stage = "mode";
      if (skipped(vk, "7")) return ckptMachineStep(m, r, env);
      return vconsSetMode(env, SH(SH_SCRATCH));
    }
    case "mode": {
      m.stage = "done";
      vm.writeU32(SH(SH_CKPT_OWNER), 0);
      if (n === 1 || skipped(vk, "4")) return null;
      if (skipped(vk, "7-restart")) return null;
      // restart_cpus.
      vm.writeU32(SH(SH_STOPPED), 0);
      vm.writeU32(SH(SH_RESTART_GEN), vm.readU32(SH(SH_STOP_GEN)) ?? 0);
      return act(syscalls.SYS_umtx_wakeup, SH(SH_RESTART_GEN), 0);
    }
    default:
      return null;
  }
}

interface HandlerState {
  m?: CkptMachine;
  signo: number;
}

/**
 * The SIGCKPT / SIGCKPTEXIT handler (steps 2-3): absorb the frame of the guest this vCPU just
 * ran (so the inner LWP's registers are current), then either queue the protocol as a kthread of
 * this vCPU when it is idle (the idle thread must never sleep) or run it here. A signal that
 * finds a protocol running is coalesced; one that reaches a thread that is no vCPU panics.
 */
export function ckptHandlerStep(ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const st = ctx.state as unknown as HandlerState & { signo: number };
  if (st.m !== undefined) {
    const a = ckptMachineStep(st.m, ctx.result, env);
    ctx.state = { ...st, m: { ...st.m } } as unknown as NativeState;
    return a ?? act(syscalls.SYS_rt_sigreturn);
  }
  const frames = ctx.signalFrames ?? [];
  const interrupted = frames[frames.length - 1];
  const role = interrupted?.role;
  if (role === "boot" && interrupted !== undefined) {
    // Not booted yet: the boot thread raises it again once the vCPUs run (SIGCKPTEXIT wins).
    const boot = (interrupted.state ?? {}) as { pendingCkpt?: number };
    interrupted.state = { ...boot, pendingCkpt: Math.max(boot.pendingCkpt ?? 0, st.signo) } as NativeState;
    return act(syscalls.SYS_rt_sigreturn);
  }
  // A vCPU that has not run its first step yet has its CPU number as lwp_create's argument.
  const vcpu = (interrupted?.state ?? { cpu: interrupted?.result }) as { cpu?: number; phase?: string };
  if (role !== "vcpu" || typeof vcpu.cpu !== "number") return act(syscalls.SYS_exit_group, VKERNEL_PANIC); // kassert: checkpoint code on a cothread
  const vk = attach(env.vm) ?? resumeThawed(env);
  if (vk === undefined) return act(syscalls.SYS_exit_group, VKERNEL_PANIC);
  const cpu = vcpu.cpu;
  if (ckptOwner(env) >= 0 || (env.vm.readU32(pcpuAddr(cpu) + PCPU_KTHREAD) ?? 0) !== 0) {
    // Coalesced with the protocol already under way; SIGCKPTEXIT upgrades it to exit.
    if (st.signo === signals.SIGCKPTEXIT) env.vm.writeU32(SH(SH_CKPT_EXIT), 1);
    return act(syscalls.SYS_rt_sigreturn);
  }
  // Step 2: the guest frame this vCPU brought back from vmspace_ctl goes to the inner kernel.
  if (!skipped(vk, "2")) absorbFrame(vk, env, cpu);
  // Step 3: an idle vCPU hands the work to a kthread.
  if (IDLE_PHASES.has(vcpu.phase ?? "")) {
    if (skipped(vk, "3")) return act(syscalls.SYS_exit_group, VKERNEL_PANIC); // kassert(!inIdle)
    env.vm.writeU32(pcpuAddr(cpu) + PCPU_KTHREAD, st.signo);
    // Change the word the idle thread sleeps on: if the host restarts that sleep after this
    // handler, it returns at once and the vCPU loop finds the kthread.
    if (vcpu.phase === "idle")
      env.vm.writeU32(SH(SH_DOORBELL), ((env.vm.readU32(SH(SH_DOORBELL)) ?? 0) + 1) >>> 0);
    else if (env.vm.readU32(pcpuAddr(cpu) + PCPU_TOKEN) !== 1) env.vm.writeU32(pcpuAddr(cpu) + PCPU_TOKEN, 2);
    return act(syscalls.SYS_rt_sigreturn);
  }
  const m: CkptMachine = { stage: "begin", signo: st.signo, cpu, i: 0 };
  const a = ckptMachineStep(m, 0, env);
  ctx.state = { signo: st.signo, m: { ...m } } as unknown as NativeState;
  return a ?? act(syscalls.SYS_rt_sigreturn);
}

/** The SIGTHAW handler: nothing to do (the reload happens on the first step that misses). */
export function thawHandlerStep(_ctx: NativeThreadContext, _env: NativeEnv): NativeAction {
  return act(syscalls.SYS_rt_sigreturn);
}
