import { type NativeAction, type NativeEnv, syscalls, tapIoctl } from "@vkc/host-kernel";
import { VKERNEL_PANIC } from "../platform/vcpu.ts";
import type { VkeInterface } from "./vke-config.ts";
import { VC_PATH, VC_SCRATCH, VH_FD, VH_PAUSE_GEN, VH_PAUSED, vkeControl, vkeHeader } from "./vke-layout.ts";

/**
 * One host call of a fixed sequence: `run` builds it (and may write its arguments to vmspace0),
 * `check` judges its result when the next step sees it (false: the vkernel panics).
 */
export interface VkeOp {
  readonly run: (env: NativeEnv) => NativeAction;
  readonly check?: (r: number, env: NativeEnv) => boolean;
}

/** What `runOps` asks for: the next call and the index to come back with, or a panic. */
export type VkeOpStep = { action: NativeAction; next: number } | { panic: NativeAction };

export const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });
export const panicAction = (): NativeAction => act(syscalls.SYS_exit_group, VKERNEL_PANIC);

/**
 * Step `i` of a sequence: check the result `r` of op `i-1` (op 0 ignores `r`), then run op `i`.
 * Null when the sequence is over.
 */
export function runOps(ops: readonly VkeOp[], i: number, r: number, env: NativeEnv): VkeOpStep | null {
  const prev = i > 0 ? ops[i - 1] : undefined;
  if (prev?.check !== undefined && !prev.check(r, env)) return { panic: panicAction() };
  const op = ops[i];
  if (op === undefined) return null;
  return { action: op.run(env), next: i + 1 };
}

const AT_FDCWD = -100;
const O_RDWR = 2;
const IFT_ETHER = 6;
const BAUDRATE = 10_000_000;
const ok = (r: number): boolean => r >= 0;

const fdOf = (env: NativeEnv, k: number): number => env.vm.readU32(vkeHeader(k) + VH_FD) ?? -1;
const ipWord = (ip: string): number => ip.split(".").reduce((w, o) => ((w << 8) | Number(o)) >>> 0, 0);
const maskWord = (prefix: number): number => (prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0);

/** `ioctl(tapfd, request, arg)` with `bytes` written to the scratch area first. */
function ioctlOp(
  k: number,
  request: number,
  bytes: (v: DataView, b: Uint8Array) => void,
  size: number,
): VkeOp {
  return {
    run: (env) => {
      const b = new Uint8Array(size);
      bytes(new DataView(b.buffer), b);
      env.vm.copyout(vkeControl() + VC_SCRATCH, b);
      return act(syscalls.SYS_ioctl, fdOf(env, k) | 0, request, vkeControl() + VC_SCRATCH);
    },
    check: ok,
  };
}

/**
 * Open vke `k`'s host tap and configure it with the host ioctls (NETWORK.md): MAC, IPv4 address
 * and mask, MTU, up, bridge. Six calls; the fd is kept in the vke header.
 */
export function tapAttachOps(iface: VkeInterface, k: number): VkeOp[] {
  const mac = Uint8Array.from(iface.mac.split(":"), (x) => Number.parseInt(x, 16));
  const name = tapIoctl.encodeIfName(iface.bridge);
  return [
    {
      run: (env) => {
        env.vm.copyout(vkeControl() + VC_PATH, new TextEncoder().encode(`${iface.device}\0`));
        return act(syscalls.SYS_openat, AT_FDCWD, vkeControl() + VC_PATH, O_RDWR, 0);
      },
      check: (r, env) => {
        if (r < 0) return false;
        env.vm.writeU32(vkeHeader(k) + VH_FD, r);
        return true;
      },
    },
    ioctlOp(k, tapIoctl.TAPSHWADDR, (_, b) => b.set(mac), 6),
    ioctlOp(
      k,
      tapIoctl.TAPSINADDR,
      (v) => {
        v.setUint32(0, ipWord(iface.address));
        v.setUint32(4, iface.address === "0.0.0.0" ? 0 : maskWord(iface.prefixLength));
      },
      8,
    ),
    ioctlOp(
      k,
      tapIoctl.TAPSIFINFO,
      (v) => {
        v.setUint32(0, BAUDRATE, true);
        v.setUint16(4, iface.mtu, true);
        v.setUint8(6, IFT_ETHER);
      },
      8,
    ),
    ioctlOp(k, tapIoctl.TAPSIFFLAGS, (v) => v.setUint32(0, 1, true), 4),
    ioctlOp(k, tapIoctl.TAPSBRIDGE, (_, b) => b.set(name), 16),
  ];
}

/** Resume vke `k` after a checkpoint: unpause, new generation, wake both cothreads. */
export function resumeOp(k: number): VkeOp {
  return {
    run: (env) => {
      const h = vkeHeader(k);
      env.vm.writeU32(h + VH_PAUSED, 0);
      env.vm.writeU32(h + VH_PAUSE_GEN, ((env.vm.readU32(h + VH_PAUSE_GEN) ?? 0) + 1) >>> 0);
      return act(syscalls.SYS_umtx_wakeup, h + VH_PAUSE_GEN, 0);
    },
  };
}
