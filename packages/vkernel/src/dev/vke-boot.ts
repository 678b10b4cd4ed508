import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  type NativeEnv,
  PROT_READ,
  PROT_WRITE,
  syscalls,
} from "@vkc/host-kernel";
import { CKPT_SIGSET } from "../ckpt/ckpt-signals.ts";
import type { VkernelConfig } from "../vkernel-config.ts";
import { vkeInterfaces } from "./vke-config.ts";
import { VC_SCRATCH, VH_FD, VKE_BASE, vkeControl, vkeHeader, vkeRegionBytes } from "./vke-layout.ts";
import { act, runOps, tapAttachOps, type VkeOp, type VkeOpStep } from "./vke-ops.ts";

/** Indexes of the vke cothreads in the program's `threadRoles` (lwp_create's `entry`). */
export const ROLE_VKE_RX = 2;
export const ROLE_VKE_TX = 3;

const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;

function sigmaskOp(how: number): VkeOp {
  return {
    run: (env) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, CKPT_SIGSET, true);
      env.vm.copyout(vkeControl() + VC_SCRATCH, b);
      return act(syscalls.SYS_rt_sigprocmask, how, vkeControl() + VC_SCRATCH, 0, 8);
    },
    check: (r) => r === 0,
  };
}

/**
 * The boot thread's vke work (DESIGN.md §4.1), as a fixed sequence of host calls: map the vke
 * region in vmspace0, open and configure each host tap, then create each vke's rx and tx
 * cothreads with SIGCKPT/SIGCKPTEXIT/SIGTHAW blocked (protocol step 1: they inherit the mask
 * and never unblock it). No taps: nothing at all.
 */
export function vkeBootOps(config: VkernelConfig): VkeOp[] {
  const ifaces = vkeInterfaces(config.taps);
  if (ifaces.length === 0) return [];
  const skip1 = config.testHooks?.skipStep?.includes("1") ?? false;
  const ops: VkeOp[] = [
    {
      run: () =>
        act(
          syscalls.SYS_mmap2,
          VKE_BASE,
          vkeRegionBytes(ifaces.length),
          PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        ),
      check: (r, env) => {
        if (r >>> 0 !== VKE_BASE) return false;
        for (let k = 0; k < ifaces.length; k++) env.vm.writeU32(vkeHeader(k) + VH_FD, -1 >>> 0);
        return true;
      },
    },
  ];
  for (const [k, iface] of ifaces.entries()) ops.push(...tapAttachOps(iface, k));
  if (!skip1) ops.push(sigmaskOp(SIG_BLOCK));
  for (let k = 0; k < ifaces.length; k++) {
    for (const role of [ROLE_VKE_RX, ROLE_VKE_TX])
      ops.push({ run: () => act(syscalls.SYS_lwp_create, role, 0, 0, k, 0), check: (r) => r > 0 });
  }
  if (!skip1) ops.push(sigmaskOp(SIG_UNBLOCK));
  return ops;
}

/**
 * Boot step `i` of the vke sequence, `r` the result of step `i-1`: the next host call and the
 * index to come back with, a panic, or null when vke is up (or there are no taps).
 */
export function vkeBootStep(config: VkernelConfig, env: NativeEnv, i: number, r: number): VkeOpStep | null {
  return runOps(vkeBootOps(config), i, r, env);
}
