import { type NativeAction, type NativeEnv, syscalls, tapIoctl } from "@vkc/host-kernel";
import type { VkernelInstance } from "../vkernel-instance.ts";
import { vkeInterfaces } from "./vke-config.ts";
import {
  VC_CKPT_PHASE,
  VC_CKPT_TAP,
  VH_DRAIN_BUF,
  VH_DRAINED,
  VH_FD,
  VH_IOCTL_ARG,
  VH_PAUSED,
  VH_RX_BOUNCE,
  VH_RX_HELD,
  VKE_FRAME_MAX,
  vkeControl,
  vkeHeader,
} from "./vke-layout.ts";
import { act, resumeOp, runOps, tapAttachOps, type VkeOp } from "./vke-ops.ts";
import { VkeRing } from "./vke-ring.ts";
import { vkeDeliverRx } from "./vke-vcpu.ts";

const skipped = (vk: VkernelInstance, part: string): boolean =>
  vk.config.testHooks?.skipStep?.includes(part) ?? false;

/** Save-machine phases (per vke). */
const START = 0;
const FIONREAD_SENT = 1;
const READ_SENT = 2;
const CLOSE_SENT = 3;
const CLOSED = 0xffff_ffff;

/**
 * Checkpoint step 5 for vke (ARCHITECTURE §4; DESIGN.md §5): for each vke, pause it, drain the
 * host tap into the rx ring (`ioctl(FIONREAD)` > 0 → `read`, one frame per call; a full ring is
 * first handed to the inner kernel, which is stopped and not yet serialized), then close the tap
 * (the host flushes a closed tap's queue, hence the drain first; the rx cothread's blocked read
 * returns -EBADF and it sleeps until resumed). The tx ring is kept: its frames leave after step
 * 7. Run by the protocol's owner with every other vCPU parked; `r` is the result of the call it
 * returned last. Progress lives in vmspace0 (the vke control page). Null when every vke is done.
 * Test switches: "5-drain", "5-close".
 */
export function vkeSaveStep(vk: VkernelInstance, env: NativeEnv, r: number): NativeAction | null {
  const vm = env.vm;
  const ctl = vkeControl();
  const n = vk.config.taps?.length ?? 0;
  const set = (k: number, phase: number): void => {
    vm.writeU32(ctl + VC_CKPT_TAP, k);
    vm.writeU32(ctl + VC_CKPT_PHASE, phase);
  };
  for (;;) {
    const k = vm.readU32(ctl + VC_CKPT_TAP) ?? 0;
    if (k >= n) {
      set(0, START);
      return null;
    }
    const h = vkeHeader(k);
    const fd = (vm.readU32(h + VH_FD) ?? CLOSED) | 0;
    const fionread = (): NativeAction => {
      set(k, FIONREAD_SENT);
      return act(syscalls.SYS_ioctl, fd, tapIoctl.FIONREAD, h + VH_IOCTL_ARG);
    };
    const close = (): NativeAction | null => {
      if (skipped(vk, "5-close")) {
        set(k + 1, START);
        return null;
      }
      set(k, CLOSE_SENT);
      return act(syscalls.SYS_close, fd);
    };
    let a: NativeAction | null = null;
    switch (vm.readU32(ctl + VC_CKPT_PHASE) ?? START) {
      case START:
        vm.writeU32(h + VH_PAUSED, 1);
        takeHeldFrame(vk, env, k);
        if (fd < 0) {
          set(k + 1, START);
          continue;
        }
        a = skipped(vk, "5-drain") ? close() : fionread();
        break;
      case FIONREAD_SENT: {
        if (r < 0 || (vm.readU32(h + VH_IOCTL_ARG) ?? 0) === 0) {
          a = close();
          break;
        }
        if (new VkeRing(vm, k, "rx").full()) vkeDeliverRx(vk, env, k);
        set(k, READ_SENT);
        a = act(syscalls.SYS_read, fd, h + VH_DRAIN_BUF, VKE_FRAME_MAX);
        break;
      }
      case READ_SENT: {
        if (r <= 0) {
          a = close();
          break;
        }
        const bytes = vm.copyin(h + VH_DRAIN_BUF, r);
        if (typeof bytes !== "number" && new VkeRing(vm, k, "rx").push(bytes))
          vm.writeU32(h + VH_DRAINED, ((vm.readU32(h + VH_DRAINED) ?? 0) + 1) >>> 0);
        a = fionread();
        break;
      }
      default:
        // CLOSE_SENT: the tap is closed (whatever close returned, the descriptor is gone).
        vm.writeU32(h + VH_FD, CLOSED);
        set(k + 1, START);
        continue;
    }
    if (a !== null) return a;
  }
}

/**
 * The frame the rx cothread holds while the ring is full came off the tap before anything the
 * drain reads: put it in the ring first (making room if needed), so the order is kept.
 */
function takeHeldFrame(vk: VkernelInstance, env: NativeEnv, k: number): void {
  const h = vkeHeader(k);
  const held = env.vm.readU32(h + VH_RX_HELD) ?? 0;
  if (held === 0) return;
  const rx = new VkeRing(env.vm, k, "rx");
  if (rx.full()) vkeDeliverRx(vk, env, k);
  const bytes = env.vm.copyin(h + VH_RX_BOUNCE, held);
  if (typeof bytes !== "number" && rx.push(bytes)) env.vm.writeU32(h + VH_RX_HELD, 0);
}

/** Step 7's vke calls: reopen and reconfigure every tap, then resume its cothreads. */
function resumeOps(vk: VkernelInstance): VkeOp[] {
  if (skipped(vk, "7-reopen")) return [];
  const ops: VkeOp[] = [];
  for (const [k, iface] of vkeInterfaces(vk.config.taps).entries())
    ops.push(...tapAttachOps(iface, k), resumeOp(k));
  return ops;
}

/**
 * Checkpoint step 7 for vke, on continue and on thaw: reopen each host tap (a thaw in a new host
 * needs the tap and bridge re-created there first: `vkc restore` does it from the image), apply
 * the ioctls again, unpause and wake the cothreads; frames left in the tx ring are then sent.
 * A tap that cannot be reopened is a panic, as at boot. Null when done. Test switch "7-reopen".
 */
export function vkeResumeStep(vk: VkernelInstance, env: NativeEnv, r: number): NativeAction | null {
  const vm = env.vm;
  const ctl = vkeControl();
  if ((vk.config.taps?.length ?? 0) === 0) return null;
  const i = vm.readU32(ctl + VC_CKPT_PHASE) ?? 0;
  const s = runOps(resumeOps(vk), i, r, env);
  if (s === null) {
    vm.writeU32(ctl + VC_CKPT_PHASE, 0);
    return null;
  }
  if ("panic" in s) return s.panic;
  vm.writeU32(ctl + VC_CKPT_PHASE, s.next);
  return s.action;
}
