import { type NativeAction, type NativeEnv, type NativeThreadContext, syscalls } from "@vkc/host-kernel";
import { SH_DOORBELL, SHARED_BASE } from "../memimage-layout.ts";
import {
  VH_FD,
  VH_PAUSE_GEN,
  VH_PAUSED,
  VH_RX_BOUNCE,
  VH_RX_HELD,
  VH_RX_WAITER,
  VH_TX_WAITER,
  VKE_FRAME_MAX,
  vkeHeader,
} from "./vke-layout.ts";
import { act } from "./vke-ops.ts";
import { VkeRing } from "./vke-ring.ts";

const EINTR = 4;

interface CoState {
  /** The vke this cothread serves. */
  k: number;
  phase: string;
  /** The fd its last read/write used. */
  fd?: number;
}

const load = (ctx: NativeThreadContext): CoState =>
  ctx.state === null ? { k: ctx.result, phase: "start" } : { ...(ctx.state as unknown as CoState) };
const save = (ctx: NativeThreadContext, st: CoState): void => {
  ctx.state = { ...st } as unknown as NativeThreadContext["state"];
};

/** Paused (checkpoint) or closed: sleep until step 7 bumps the pause generation. */
function pausedSleep(env: NativeEnv, k: number): NativeAction | null {
  const h = vkeHeader(k);
  const fd = env.vm.readU32(h + VH_FD) ?? -1;
  if (env.vm.readU32(h + VH_PAUSED) !== 1 && fd !== 0xffff_ffff) return null;
  return act(syscalls.SYS_umtx_sleep, h + VH_PAUSE_GEN, env.vm.readU32(h + VH_PAUSE_GEN) ?? 0, 0);
}

/**
 * The vke-rx cothread (DESIGN.md §4.1): a blocking host `read(tapfd)` into its bounce buffer,
 * the frame appended to the rx ring, the vCPUs' doorbell rung (`umtx_wakeup`); while the ring is
 * full it sleeps on the ring's head (nothing is dropped by the vkernel). While the device is
 * paused for a checkpoint it sleeps on the pause generation; a read that fails because step 5
 * closed the tap (-EBADF) ends up there too. Born with the checkpoint signals blocked.
 */
export function vkeRxStep(ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const st = load(ctx);
  const r = ctx.result;
  const vm = env.vm;
  const h = vkeHeader(st.k);
  const ring = new VkeRing(vm, st.k, "rx");
  const go = (phase: string, a: NativeAction, patch: Partial<CoState> = {}): NativeAction => {
    save(ctx, { k: st.k, phase, ...patch });
    return a;
  };
  const read = (): NativeAction => {
    const p = pausedSleep(env, st.k);
    if (p !== null) return go("paused", p);
    const fd = vm.readU32(h + VH_FD) ?? 0;
    return go("read", act(syscalls.SYS_read, fd | 0, h + VH_RX_BOUNCE, VKE_FRAME_MAX), { fd });
  };
  const commit = (n: number): NativeAction => {
    if (ring.full()) {
      // The held frame is announced in the header: step 5 may take it first (keeping the order).
      vm.writeU32(h + VH_RX_HELD, n);
      vm.writeU32(h + VH_RX_WAITER, 1);
      return go("full", act(syscalls.SYS_umtx_sleep, ring.headAddr, ring.head, 0));
    }
    vm.writeU32(h + VH_RX_HELD, 0);
    const bytes = vm.copyin(h + VH_RX_BOUNCE, n);
    if (typeof bytes !== "number") ring.push(bytes);
    const bell = SHARED_BASE + SH_DOORBELL;
    vm.writeU32(bell, ((vm.readU32(bell) ?? 0) + 1) >>> 0);
    return go("wake", act(syscalls.SYS_umtx_wakeup, bell, 0));
  };
  switch (st.phase) {
    case "read":
      if (r > 0) return commit(r);
      if (r === -EINTR || (vm.readU32(h + VH_FD) ?? 0) !== st.fd) return read();
      // The tap failed under us (closed by step 5): wait for the next resume.
      return go(
        "paused",
        act(syscalls.SYS_umtx_sleep, h + VH_PAUSE_GEN, vm.readU32(h + VH_PAUSE_GEN) ?? 0, 0),
      );
    case "full": {
      const held = vm.readU32(h + VH_RX_HELD) ?? 0;
      return held > 0 ? commit(held) : read(); // 0: step 5 moved it into the ring
    }
    default:
      return read();
  }
}

/**
 * The vke-tx cothread: sleeps on the tx ring's tail while it is empty, writes each frame to the
 * host tap with `write(tapfd)` straight from its slot. A write that fails because the tap was
 * closed for a checkpoint keeps the frame (it is sent after step 7); any other failure drops it.
 * Wakes a vCPU waiting for the ring to empty (the vkernel flushes before it exits).
 */
export function vkeTxStep(ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const st = load(ctx);
  const r = ctx.result;
  const vm = env.vm;
  const h = vkeHeader(st.k);
  const ring = new VkeRing(vm, st.k, "tx");
  const go = (phase: string, a: NativeAction, patch: Partial<CoState> = {}): NativeAction => {
    save(ctx, { k: st.k, phase, ...patch });
    return a;
  };
  if (st.phase === "write") {
    const kept = r < 0 && ((vm.readU32(h + VH_FD) ?? 0) !== st.fd || vm.readU32(h + VH_PAUSED) === 1);
    if (!kept) ring.pop();
    if (vm.readU32(h + VH_TX_WAITER) === 1) {
      vm.writeU32(h + VH_TX_WAITER, 0);
      return go("woke", act(syscalls.SYS_umtx_wakeup, ring.headAddr, 0));
    }
  }
  const p = pausedSleep(env, st.k);
  if (p !== null) return go("paused", p);
  const slot = ring.headSlot();
  if (slot === null) return go("idle", act(syscalls.SYS_umtx_sleep, ring.tailAddr, ring.tail, 0));
  const fd = vm.readU32(h + VH_FD) ?? 0;
  return go("write", act(syscalls.SYS_write, fd | 0, slot.addr, slot.len), { fd });
}
