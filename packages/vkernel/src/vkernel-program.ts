import {
  type NativeAction,
  type NativeEnv,
  type NativeProgram,
  type NativeThreadContext,
  syscalls,
} from "@vkc/host-kernel";
import { ckptHandlerStep, thawHandlerStep } from "./ckpt/ckpt-protocol.ts";
import { resumeThawed } from "./ckpt/ckpt-restore.ts";
import { vconsRxStep } from "./dev/vcons.ts";
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
    if (cfg === undefined) return { syscall: syscalls.SYS_exit_group, args: [VKERNEL_PANIC] };
    const a = bootStep(cfg, ctx, env);
    return a ?? vcpu(ctx, env);
  };
  const vcpu = (ctx: NativeThreadContext, env: NativeEnv): NativeAction => {
    if (ctx.state === null) ctx.state = { cpu: ctx.result, phase: "start" };
    const vk = attach(env.vm) ?? resumeThawed(env);
    if (vk === undefined) return { syscall: syscalls.SYS_exit_group, args: [VKERNEL_PANIC] };
    return vcpuStep(vk, ctx, env);
  };
  return {
    main: "boot",
    steps: { boot, vcpu, "vcons-rx": vconsRxStep, ckpt: ckptHandlerStep, thaw: thawHandlerStep },
    threadRoles: ["vcpu", "vcons-rx"],
    handlerRoles: ["ckpt", "thaw"],
  };
}
