import {
  type NativeAction,
  type NativeEnv,
  type NativeProgram,
  type NativeState,
  type NativeThreadContext,
  syscalls,
} from "@vkc/host-kernel";
import { ckptHandlerStep, thawHandlerStep } from "./ckpt/ckpt-protocol.ts";
import { resumeThawed } from "./ckpt/ckpt-restore.ts";
import { vconsRxStep } from "./dev/vcons.ts";
import { winchHandlerStep } from "./dev/vcons-winsize.ts";
import { vkeRxStep, vkeTxStep } from "./dev/vke-cothreads.ts";
import { cpuOfTp } from "./memimage-layout.ts";
import { VKERNEL_PANIC, vcpuStep } from "./platform/vcpu.ts";
import { bootStep } from "./vkernel-boot.ts";
import { type VkernelConfig, validateConfig } from "./vkernel-config.ts";
import { attach } from "./vkernel-instance.ts";

/**
 * `/boot/vkernel` (ARCHITECTURE §4, DESIGN.md §1): a native program whose boot thread becomes
 * vCPU 0 and starts vCPUs 1..N-1 and the vcons-rx cothread; the vCPUs run the inner kernel (the
 * host's `Kernel` on VkHarts) and its guests through vmspace_ctl; SIGCKPT/SIGCKPTEXIT run the
 * checkpoint protocol. Without a config the program can only resume a thawed vkernel (`vkc
 * restore`): everything it needs is in the image's state region.
 */
export function createVkernelProgram(config?: VkernelConfig): NativeProgram {
  const cfg = config === undefined ? undefined : validateConfig(config);
  const boot = (ctx: NativeThreadContext, env: NativeEnv): NativeAction => {
    // A boot thawed mid-way (frozen by the host's default action) finds its config in its state.
    const saved = (ctx.state as { config?: VkernelConfig } | null)?.config;
    const c = cfg ?? (saved === undefined ? undefined : validateConfig(saved));
    if (c === undefined) return { syscall: syscalls.SYS_exit_group, args: [VKERNEL_PANIC] };
    const a = bootStep(c, ctx, env);
    return a ?? vcpu(ctx, env);
  };
  const vcpu = (ctx: NativeThreadContext, env: NativeEnv): NativeAction => {
    if (ctx.state === null) ctx.state = { cpu: cpuOfTp(env.tp), phase: "start" };
    const vk = attach(env.vm) ?? resumeThawed(env);
    if (vk === undefined) return { syscall: syscalls.SYS_exit_group, args: [VKERNEL_PANIC] };
    return vcpuStep(vk, ctx, env);
  };
  return {
    main: "boot",
    ...(cfg !== undefined ? { initialState: { config: cfg as unknown as NativeState } } : {}),
    steps: {
      boot,
      vcpu,
      "vcons-rx": vconsRxStep,
      "vke-rx": vkeRxStep,
      "vke-tx": vkeTxStep,
      ckpt: ckptHandlerStep,
      thaw: thawHandlerStep,
      winch: winchHandlerStep,
    },
    // Indexes are lwp_create entries: ROLE_VCPU, ROLE_VCONS_RX, then ROLE_VKE_RX/TX (dev/vke-boot.ts).
    threadRoles: ["vcpu", "vcons-rx", "vke-rx", "vke-tx"],
    handlerRoles: ["ckpt", "thaw", "winch"],
  };
}
