import type { NativeEnv } from "@vkc/host-kernel";
import { STATE_BASE } from "../memimage-layout.ts";
import { register, type VkernelInstance } from "../vkernel-instance.ts";
import { rebuildVkernel } from "./ckpt-state.ts";
import { decodeStateHeader, decodeStatePayload, STATE_HEADER_BYTES } from "./state-region.ts";

/**
 * A step found no running vkernel for its address space: this process was thawed (a thaw builds a
 * fresh host VmSpace). Rebuild the inner kernel from the state region (DESIGN.md §5.8) and
 * register it, or undefined when the region holds no valid state (the caller panics).
 */
export function resumeThawed(env: NativeEnv): VkernelInstance | undefined {
  const header = env.vm.copyin(STATE_BASE, STATE_HEADER_BYTES);
  if (typeof header === "number") return undefined;
  try {
    const h = decodeStateHeader(header);
    if (h === null) return undefined;
    const payload = env.vm.copyin(STATE_BASE + STATE_HEADER_BYTES, h.length);
    if (typeof payload === "number") return undefined;
    const vk = rebuildVkernel(decodeStatePayload(h, payload), env.vm);
    register(env.vm, vk);
    return vk;
  } catch (e) {
    if (e instanceof Error && "code" in e) return undefined;
    throw e;
  }
}
