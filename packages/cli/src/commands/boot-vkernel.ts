import type { ImageStore } from "@vkc/checkpoint";
import type { NativeProgram } from "@vkc/host-kernel";
import * as vkernel from "@vkc/vkernel";
import { CliError } from "../errors.ts";

/**
 * The CLI's one seam onto `@vkc/vkernel`. `vkc boot`, `vkc restore`, `vkc images show`, the demo
 * and the bench reach the vkernel only through here, so they follow the package's API as it grows:
 * `createVkernelProgram(config)` / `createVkernelProgram()` (restore) and `readVkernelView` when
 * the package exports them, else the milestone-0 slice (`createVkernelSliceProgram`: one guest,
 * write/exit only, no checkpoint protocol of its own) and no view.
 */

/** Where the host kernel runs the vkernel program. */
export const VKERNEL_PATH = "/boot/vkernel";

/** The vkernel's configuration (the package's `VkernelConfig`): guests are host VFS paths. */
export interface BootConfig {
  readonly vcpus: number;
  readonly memoryBytes: number;
  readonly guests: readonly { readonly path: string; readonly argv: readonly string[] }[];
  readonly taps?: readonly { readonly device: string; readonly address?: string }[];
  readonly seed?: number;
  readonly quantum?: number;
}

interface VkernelApi {
  createVkernelProgram?: (config?: BootConfig) => NativeProgram;
  readVkernelView?: (images: ImageStore, ref: string) => Promise<unknown>;
}

const api = vkernel as unknown as VkernelApi;
let sliceOnly = false;

/**
 * For tests of the CLI's own plumbing (flags, images, restore wiring): boot the milestone-0 slice
 * even when the full vkernel is there, whose host-side behaviour (SIG_DFL checkpoint signals) is
 * simple and fixed.
 */
export function useSliceVkernel(on: boolean): void {
  sliceOnly = on;
}

/** True when the package has the full vkernel (SMP, inner kernel, checkpoint protocol). */
export function hasFullVkernel(): boolean {
  return !sliceOnly && typeof api.createVkernelProgram === "function";
}

/**
 * The `/boot/vkernel` program. For a boot, `config`; for a restore, the full vkernel takes no
 * config (its state is in the image), the slice is rebuilt from the config the image recorded.
 * `files` are the guest ELFs by their host VFS path (the slice takes the first one's bytes).
 */
export function vkernelProgram(
  config: BootConfig,
  files: Readonly<Record<string, Uint8Array>>,
  mode: "boot" | "restore",
): NativeProgram {
  if (api.createVkernelProgram !== undefined && !sliceOnly) {
    try {
      return mode === "boot" ? api.createVkernelProgram(config) : api.createVkernelProgram();
    } catch (error) {
      if (!vkernel.VkernelError.isInstance(error)) throw error;
      throw new CliError("VKERNEL", `cannot boot the vkernel: ${(error as Error).message.split("\n")[0]}`, {
        cause: error,
      });
    }
  }
  const first = config.guests[0];
  const elf = first === undefined ? undefined : files[first.path];
  if (first === undefined || elf === undefined) throw new RangeError("vkernel: no guest to boot");
  return vkernel.createVkernelSliceProgram({ elf, argv: first.argv, memoryBytes: config.memoryBytes });
}

/** The vkernel's own view of a vkernel image (plain data), or null (not a vkernel, or not readable). */
export async function readVkernelView(images: ImageStore, ref: string): Promise<unknown> {
  if (api.readVkernelView === undefined) return null;
  return (await api.readVkernelView(images, ref)) ?? null;
}
