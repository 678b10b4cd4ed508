import { type NativeAction, type NativeEnv, syscalls } from "@vkc/host-kernel";
import type { VkernelInstance } from "../vkernel-instance.ts";
import {
  VH_FD,
  VH_PAUSED,
  VH_RX_WAITER,
  VH_TX_TAIL,
  VH_TX_WAITER,
  VH_TX_WOKEN,
  vkeHeader,
} from "./vke-layout.ts";
import { act } from "./vke-ops.ts";
import { VkeRing } from "./vke-ring.ts";

const tapCount = (vk: VkernelInstance): number => vk.config.taps?.length ?? 0;

/** Move every frame queued in vke `k`'s rx ring into the inner kernel (`netifReceive`), oldest first. */
export function vkeDeliverRx(vk: VkernelInstance, env: NativeEnv, k: number): void {
  const rx = new VkeRing(env.vm, k, "rx");
  for (let f = rx.peek(); f !== null; f = rx.peek()) {
    rx.pop();
    vk.inner.netifReceive(k, f);
  }
}

/** True (and the flag cleared) when vke `k`'s rx cothread sleeps for room and the ring has some. */
function rxWaiterToWake(env: NativeEnv, k: number): boolean {
  const waiter = vkeHeader(k) + VH_RX_WAITER;
  if (env.vm.readU32(waiter) !== 1 || new VkeRing(env.vm, k, "rx").full()) return false;
  env.vm.writeU32(waiter, 0);
  return true;
}

/**
 * What a vCPU does for vke between inner steps (DESIGN.md §4.1), at a fixed point of its loop:
 * hand the rx rings' frames to the inner kernel, then the host call it owes the cothreads —
 * `umtx_wakeup` of an rx cothread waiting for room, or of a tx cothread whose ring got frames
 * since it was last woken. Null when there is nothing to do (always, without taps).
 */
export function vkeVcpuWork(vk: VkernelInstance, env: NativeEnv): NativeAction | null {
  const n = tapCount(vk);
  const vm = env.vm;
  for (let k = 0; k < n; k++) {
    vkeDeliverRx(vk, env, k);
    if (rxWaiterToWake(env, k)) return act(syscalls.SYS_umtx_wakeup, new VkeRing(vm, k, "rx").headAddr, 0);
  }
  for (let k = 0; k < n; k++) {
    const h = vkeHeader(k);
    const tail = vm.readU32(h + VH_TX_TAIL) ?? 0;
    if (tail !== vm.readU32(h + VH_TX_WOKEN)) {
      vm.writeU32(h + VH_TX_WOKEN, tail);
      return act(syscalls.SYS_umtx_wakeup, h + VH_TX_TAIL, 0);
    }
  }
  return null;
}

/**
 * Before the vkernel exits: do the pending vke work, then wait (sleeping on the tx ring's head)
 * until every frame the inner kernel sent is on the host tap, so a reply sent just before the
 * last guest exits still leaves. A paused or closed vke is not waited for. Null: exit now.
 */
export function vkeFlushBeforeExit(vk: VkernelInstance, env: NativeEnv): NativeAction | null {
  const w = vkeVcpuWork(vk, env);
  if (w !== null) return w;
  const vm = env.vm;
  for (let k = 0; k < tapCount(vk); k++) {
    const h = vkeHeader(k);
    const tx = new VkeRing(vm, k, "tx");
    if (tx.count() === 0 || vm.readU32(h + VH_PAUSED) === 1 || vm.readU32(h + VH_FD) === 0xffff_ffff)
      continue;
    vm.writeU32(h + VH_TX_WAITER, 1);
    return act(syscalls.SYS_umtx_sleep, tx.headAddr, tx.head, 0);
  }
  return null;
}
