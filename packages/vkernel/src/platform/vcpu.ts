import {
  FRAME_BUDGET,
  FRAME_CAUSE,
  FRAME_CODE,
  FRAME_FLAGS,
  FRAME_PC,
  FRAME_RETIRED,
  FRAME_SIGNO,
  FRAME_VALUE,
  GUEST_FRAME_SIZE,
  MADV_INVAL,
  MADV_SETMAP,
  MAP_FIXED,
  MAP_SHARED,
  MAP_VPAGETABLE,
  type NativeAction,
  type NativeEnv,
  type NativeThreadContext,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SIGCODE_ADDR,
  signals,
  syscalls,
  VMFRAME_SAME_CONTEXT,
  VMFRAME_TAGGED,
  VMSPACE_CTL_RUN,
  VMTRAP_FAULT,
  type VmSpace,
} from "@vkc/host-kernel";
import { type CkptMachine, ckptMachineStep, ckptOwner, cpusStopped } from "../ckpt/ckpt-protocol.ts";
import { vkeFlushBeforeExit, vkeVcpuWork } from "../dev/vke-vcpu.ts";
import {
  GUEST_WINDOW_END,
  GUEST_WINDOW_START,
  MEMIMG_BASE,
  PCPU_BOUNCE,
  PCPU_FRAME,
  PCPU_KTHREAD,
  PCPU_TOKEN,
  pcpuAddr,
  SH_DOORBELL,
  SH_RESTART_GEN,
  SH_RX_CAP,
  SH_RX_COUNT,
  SH_RX_DATA,
  SH_RX_EOF,
  SH_STOPPED,
  SHARED_BASE,
} from "../memimage-layout.ts";
import type { VkernelInstance } from "../vkernel-instance.ts";
import { VkHart } from "./vk-hart.ts";

/** A vCPU thread's plain-data state: its CPU number, the host call it waits for, and its argument. */
export interface VcpuState {
  cpu: number;
  phase: string;
  /** The pid whose guest vmspace a "setup"/"destroy" call is about. */
  pid?: number;
  /** Which setup call ("setup": 3 create, 2 mmap, 1 SETMAP) the result is for. */
  stage?: number;
  /** A checkpoint signal that arrived during boot, to raise again (vCPU 0's first step). */
  raise?: number;
  /** The checkpoint kthread this vCPU runs (DESIGN.md §3.3), while it runs. */
  kt?: CkptMachine;
}

const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });
const WINDOW_LEN = GUEST_WINDOW_END - GUEST_WINDOW_START;
/** Exit status of the vkernel on an internal error (a host call refused, a broken invariant). */
export const VKERNEL_PANIC = 70;
const panicAction = (): NativeAction => act(syscalls.SYS_exit_group, VKERNEL_PANIC);

/**
 * Take in the result of a finished vmspace_ctl run on vCPU `cpu`: load the frame's registers into
 * the inner LWP's VkHart and leave the trap for the inner kernel to see (`pendingTrap`). Faults
 * the pmap can resolve (demand paging, copy-on-write) become a plain re-run. Exactly once per
 * run: the checkpoint handler and the interrupted vCPU step both call it (DESIGN.md §5 step 2).
 */
export function absorbFrame(vk: VkernelInstance, env: NativeEnv, cpu: number): void {
  const slot = vk.cpus[cpu];
  if (slot === undefined || slot.inGuest === null) return;
  const tid = slot.inGuest;
  slot.inGuest = null;
  const lwp = vk.inner.lwps.get(tid);
  if (lwp === undefined || !(lwp.hart instanceof VkHart)) return;
  const hart = lwp.hart;
  const base = pcpuAddr(cpu) + PCPU_FRAME;
  const bytes = env.vm.peek(base, GUEST_FRAME_SIZE);
  if (typeof bytes === "number") throw new RangeError("vkernel: the pcpu frame is not mapped");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 1; i < 32; i++) hart.x[i] = v.getInt32(i * 4, true);
  hart.pc = v.getUint32(FRAME_PC, true);
  const cause = v.getUint32(FRAME_CAUSE, true);
  const value = v.getUint32(FRAME_VALUE, true);
  let signo = v.getUint32(FRAME_SIGNO, true);
  let code = v.getUint32(FRAME_CODE, true);
  let c = cause;
  let retired = v.getUint32(FRAME_RETIRED, true);
  if (c === VMTRAP_FAULT && signo === signals.SIGSEGV && value !== SIGCODE_ADDR) {
    const r = vk.pmapFor(lwp.proc.pid).fault(lwp.proc.vm, value);
    if (r.kind === "resolved") {
      c = 0;
      if (completeStoreConditional(lwp.proc.vm, hart)) retired += 1;
    } else {
      signo = r.signo;
      code = r.code;
    }
  }
  hart.wantsRun = false;
  hart.pendingTrap = { cause: c, value, signo, code, retired, pc: hart.pc };
}

/**
 * An `sc.w` that faulted (a write to a copy-on-write page) had its reservation: the host checks
 * the reservation before the page, so on a hart of its own the store would have succeeded. Re-run
 * it and its reservation is gone, the guest retries its LR/SC loop: a different instruction
 * count than on the host. So the vkernel completes it here, exactly as the hart would have: the
 * store through the inner VmSpace (now writable), rd = 0, pc past it. True if it did.
 */
function completeStoreConditional(vm: VmSpace, hart: VkHart): boolean {
  const insn = vm.copyin(hart.pc, 4);
  if (typeof insn === "number") return false;
  const w = new DataView(insn.buffer, insn.byteOffset, 4).getUint32(0, true);
  if ((w & 0x7f) !== 0x2f || ((w >>> 12) & 7) !== 2 || w >>> 27 !== 3) return false;
  const rd = (w >>> 7) & 31;
  const addr = (hart.x[(w >>> 15) & 31] ?? 0) >>> 0;
  const word = new Uint8Array(4);
  new DataView(word.buffer).setInt32(0, hart.x[(w >>> 20) & 31] ?? 0, true);
  if (addr % 4 !== 0 || vm.copyout(addr, word) !== 0) return false;
  if (rd !== 0) hart.x[rd] = 0;
  hart.pc = (hart.pc + 4) >>> 0;
  return true;
}

/**
 * One step of vCPU `st.cpu` (DESIGN.md §1.3, §3.2): flush console output, feed console input,
 * keep the inner scheduler's cursor as a token (only its holder steps the inner kernel), step the
 * inner kernel until the current LWP wants to run guest code, then return the host call that
 * does it (vmspace_ctl), or the one that sets its vmspace up, invalidates it, hands the token on
 * or idles.
 */
export function vcpuLoop(
  vk: VkernelInstance,
  ctx: NativeThreadContext,
  env: NativeEnv,
  st: VcpuState,
): NativeAction {
  const c = st.cpu;
  const vm = env.vm;
  const inner = vk.inner;
  const set = (phase: string, pid?: number, stage?: number): void => {
    st.phase = phase;
    if (pid === undefined) delete st.pid;
    else st.pid = pid;
    if (stage === undefined) delete st.stage;
    else st.stage = stage;
    ctx.state = { ...st } as unknown as NativeThreadContext["state"];
  };
  if (st.raise !== undefined) {
    const sig = st.raise;
    delete st.raise;
    set("raise");
    return act(syscalls.SYS_kill, env.pid, sig);
  }
  for (;;) {
    // A checkpoint kthread queued by the SIGCKPT handler while this vCPU was idle (step 3).
    const queued = vm.readU32(pcpuAddr(c) + PCPU_KTHREAD) ?? 0;
    if (st.kt === undefined && queued !== 0) {
      vm.writeU32(pcpuAddr(c) + PCPU_KTHREAD, 0);
      st.kt = { stage: "begin", signo: queued, cpu: c, i: 0 };
    }
    if (st.kt !== undefined) {
      const kt = { ...st.kt };
      const a = ckptMachineStep(kt, ctx.result, env);
      if (a !== null) {
        st.kt = kt;
        set("kthread");
        return a;
      }
      delete st.kt;
    }
    // stop_cpus in effect: park outside guest context (the frame was absorbed at step start).
    if (cpusStopped(env) && ckptOwner(env) !== c) {
      if (st.phase !== "parked" && st.phase !== "park-count") {
        vm.writeU32(SHARED_BASE + SH_STOPPED, ((vm.readU32(SHARED_BASE + SH_STOPPED) ?? 0) + 1) >>> 0);
        set("park-count");
        return act(syscalls.SYS_umtx_wakeup, SHARED_BASE + SH_STOPPED, 0);
      }
      set("parked");
      return act(
        syscalls.SYS_umtx_sleep,
        SHARED_BASE + SH_RESTART_GEN,
        vm.readU32(SHARED_BASE + SH_RESTART_GEN) ?? 0,
        0,
      );
    }
    const out = vk.takeConsole(0x1000);
    if (out !== null) {
      if (vm.copyout(pcpuAddr(c) + PCPU_BOUNCE, out) !== 0) return panicAction();
      set("write");
      return act(syscalls.SYS_write, 1, pcpuAddr(c) + PCPU_BOUNCE, out.length);
    }
    const rxWake = drainConsoleInput(vk, env);
    if (rxWake) {
      set("rx-wake");
      return act(syscalls.SYS_umtx_wakeup, SHARED_BASE + SH_RX_COUNT, 0);
    }
    const vke = vkeVcpuWork(vk, env); // rx rings → inner kernel; wake vke cothreads (dev/vke-vcpu.ts)
    if (vke !== null) {
      set("vke");
      return vke;
    }
    const dead = vk.deadPmap();
    if (dead !== undefined) {
      const id = dead.id;
      vk.dropPmap(dead);
      if (dead.setup === 0) {
        set("destroy");
        return act(syscalls.SYS_vmspace_destroy, id);
      }
      continue;
    }
    if (inner.sched.cursor !== c) {
      const mine = pcpuAddr(c) + PCPU_TOKEN;
      if (vm.readU32(mine) === 1) {
        const d = inner.sched.cursor;
        vm.writeU32(pcpuAddr(d) + PCPU_TOKEN, 1);
        vm.writeU32(mine, 0);
        set("handoff");
        return act(syscalls.SYS_umtx_wakeup, pcpuAddr(d) + PCPU_TOKEN, 0);
      }
      set("token-wait");
      return act(syscalls.SYS_umtx_sleep, mine, vm.readU32(mine) ?? 0, 0);
    }
    const lwp = vk.current(c);
    if (lwp !== undefined && lwp.state === "runnable" && lwp.hart instanceof VkHart && lwp.hart.wantsRun) {
      return enterGuest(vk, env, c, lwp.proc.pid, lwp.tid, lwp.hart, set);
    }
    const outcome = inner.step(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    // Fast path (the common end of a slice or syscall): nothing outside this step changed the
    // shared words read above (one native step runs alone), so when the step left no console
    // output and no vke work, enter the guest its LWP wants to run without another pass.
    if (
      outcome !== "exited" &&
      outcome !== "deadlock" &&
      outcome !== "wait-input" &&
      vk.consoleOut.length === 0
    ) {
      const next = vk.current(c);
      if (
        inner.sched.cursor === c &&
        next !== undefined &&
        next.state === "runnable" &&
        next.hart instanceof VkHart &&
        next.hart.wantsRun &&
        vk.config.taps === undefined
      )
        return enterGuest(vk, env, c, next.proc.pid, next.tid, next.hart, set);
    }
    if (outcome === "exited") {
      if (vk.consoleOut.length > 0) continue;
      const flush = vkeFlushBeforeExit(vk, env); // the tx rings leave before the vkernel exits
      if (flush !== null) {
        set("vke");
        return flush;
      }
      const init = inner.procs.get(inner.initPid);
      set("exit");
      return act(syscalls.SYS_exit_group, init?.exitStatus ?? 0);
    }
    if (outcome === "deadlock" || outcome === "wait-input") {
      if (vk.consoleOut.length > 0) continue;
      if ((vm.readU32(SHARED_BASE + SH_RX_COUNT) ?? 0) > 0) continue;
      const tx = vkeVcpuWork(vk, env); // frames the step sent: wake the tx cothread before idling
      if (tx !== null) {
        set("vke");
        return tx;
      }
      set("idle");
      return act(
        syscalls.SYS_umtx_sleep,
        SHARED_BASE + SH_DOORBELL,
        vm.readU32(SHARED_BASE + SH_DOORBELL) ?? 0,
        0,
      );
    }
  }
}

/** The outgoing frame, filled in place for each run (copied out to the pcpu page at once). */
const FRAME_OUT = new Uint8Array(GUEST_FRAME_SIZE);
const FRAME_OUT_VIEW = new DataView(FRAME_OUT.buffer);

/** Move queued console input from the rx ring into the inner tty; true if the cothread may wait for room. */
function drainConsoleInput(vk: VkernelInstance, env: NativeEnv): boolean {
  const vm = env.vm;
  const count = vm.readU32(SHARED_BASE + SH_RX_COUNT) ?? 0;
  if (count > 0) {
    const bytes = vm.copyin(SHARED_BASE + SH_RX_DATA, count);
    vm.writeU32(SHARED_BASE + SH_RX_COUNT, 0);
    if (typeof bytes !== "number") vk.inner.ttyInput(bytes);
  }
  if (!vk.inputClosed && vm.readU32(SHARED_BASE + SH_RX_EOF) === 1) {
    vk.inputClosed = true;
    vk.inner.closeInput();
  }
  return count > SH_RX_CAP / 2;
}

function enterGuest(
  vk: VkernelInstance,
  env: NativeEnv,
  c: number,
  pid: number,
  tid: number,
  hart: VkHart,
  set: (phase: string, pid?: number, stage?: number) => void,
): NativeAction {
  const pmap = vk.pmapFor(pid);
  const proc = vk.inner.procs.get(pid);
  if (proc === undefined) return panicAction();
  if (pmap.setup > 0) {
    pmap.setupIssued = pmap.setup;
    set("setup", pid, pmap.setup);
    if (pmap.setup === 3) return act(syscalls.SYS_vmspace_create, pmap.id, 0, 0);
    if (pmap.setup === 2)
      return act(
        syscalls.SYS_vmspace_mmap,
        pmap.id,
        GUEST_WINDOW_START,
        WINDOW_LEN,
        PROT_READ | PROT_WRITE | PROT_EXEC,
        MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE,
        MEMIMG_BASE,
      );
    return act(
      syscalls.SYS_vmspace_mcontrol,
      pmap.id,
      GUEST_WINDOW_START,
      WINDOW_LEN,
      MADV_SETMAP,
      pmap.masterPde(),
    );
  }
  pmap.sync(proc.vm);
  if (pmap.needInval || pmap.invalRanges.length > 8) {
    pmap.needInval = false;
    pmap.invalRanges.length = 0;
    set("inval");
    return act(syscalls.SYS_vmspace_mcontrol, pmap.id, GUEST_WINDOW_START, WINDOW_LEN, MADV_INVAL, 0);
  }
  const range = pmap.invalRanges.pop();
  if (range !== undefined) {
    set("inval");
    return act(syscalls.SYS_vmspace_mcontrol, pmap.id, range[0], range[1] - range[0], MADV_INVAL, 0);
  }
  // The frame straight from the hart's registers (no context object: this is once per run).
  const frame = FRAME_OUT;
  const fv = FRAME_OUT_VIEW;
  fv.setUint32(0, 0, true);
  for (let i = 1; i < 32; i++) fv.setInt32(i * 4, hart.x[i] as number, true);
  fv.setUint32(FRAME_PC, hart.pc >>> 0, true);
  for (let o = FRAME_CAUSE; o < FRAME_BUDGET; o += 4) fv.setUint32(o, 0, true);
  fv.setUint32(FRAME_RETIRED, 0, true);
  const slot = vk.cpus[c];
  fv.setUint32(FRAME_BUDGET, Math.max(1, Math.min(hart.budget, 0x7fff_ffff)), true);
  // LR reservations are per inner thread (DESIGN.md §3.2): tagged with its tid, the host parks
  // it between runs on whichever vCPU; dropped when the thread's registers were reloaded.
  const same = hart.contextReloaded ? 0 : VMFRAME_SAME_CONTEXT;
  hart.contextReloaded = false;
  fv.setUint32(FRAME_FLAGS, (VMFRAME_TAGGED | same | ((tid & 0xff_ffff) << 8)) >>> 0, true);
  if (env.vm.copyout(pcpuAddr(c) + PCPU_FRAME, frame) !== 0) return panicAction();
  if (slot !== undefined) slot.inGuest = tid;
  set("run");
  return act(syscalls.SYS_vmspace_ctl, pmap.id, VMSPACE_CTL_RUN, pcpuAddr(c) + PCPU_FRAME);
}

/**
 * The vCPU role's step: take in the result of the host call it made (per `phase`), then loop.
 */
export function vcpuStep(vk: VkernelInstance, ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const st = { ...(ctx.state as unknown as VcpuState) };
  const r = ctx.result;
  switch (st.phase) {
    case "run":
      if (r < 0) return panicAction();
      absorbFrame(vk, env, st.cpu);
      break;
    case "setup": {
      // A result from before a thaw is stale: the rebuilt pmap starts its setup again.
      const p = vk.pmaps.get(st.pid ?? -1);
      if (p === undefined || p.setupIssued === null || p.setupIssued !== st.stage) break;
      p.setupIssued = null;
      if (r < 0 && r !== -17) return panicAction();
      p.setup -= 1;
      break;
    }
    case "inval":
    case "destroy":
      // -ENOENT: the guest vmspace went with the old host process (a thaw); it is made again.
      if (r < 0 && r !== -2) return panicAction();
      break;
    default:
      break;
  }
  return vcpuLoop(vk, ctx, env, st);
}
