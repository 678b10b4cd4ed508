import type { ImageStore, Manifest } from "@vkc/checkpoint";
import type { NativeProgram } from "@vkc/host-kernel";
import {
  createVkernelProgram,
  createVkernelSliceProgram,
  readVkernelView as readView,
  readVkernelSection,
  VKERNEL_PATH,
  type VkernelConfig,
  VkernelError,
  type VkernelImageSection,
  type VkernelView,
  vkernelImageSection,
} from "@vkc/vkernel";
import { CliError } from "../errors.ts";

/**
 * The CLI's one seam onto `@vkc/vkernel`: `vkc boot`, `vkc restore`, `vkc images show` and the
 * demo make the vkernel program and read its view only through here. Tests of the CLI's own
 * plumbing can swap in the milestone-0 slice (`useSliceVkernel`).
 */

export { VKERNEL_PATH };

/** The vkernel's configuration (the package's `VkernelConfig`): guests are host VFS paths. */
export type BootConfig = Omit<VkernelConfig, "testHooks">;

let sliceOnly = false;

/**
 * For tests of the CLI's own plumbing (flags, images, restore wiring): boot the milestone-0 slice
 * (one guest, write/exit only, checkpoint signals left at SIG_DFL so the host freezes it) instead
 * of the full vkernel.
 */
export function useSliceVkernel(on: boolean): void {
  sliceOnly = on;
}

/**
 * The `/boot/vkernel` program. For a boot, `config`; for a restore, the full vkernel takes no
 * config (its state is in the image), the slice is rebuilt from the config the image recorded.
 * `files` are the guest ELFs by their host VFS path (the slice takes the first one's bytes).
 * A config the vkernel refuses is one line (exit 1).
 */
export function vkernelProgram(
  config: BootConfig,
  files: Readonly<Record<string, Uint8Array>>,
  mode: "boot" | "restore",
): NativeProgram {
  if (!sliceOnly) {
    try {
      return mode === "boot" ? createVkernelProgram(config) : createVkernelProgram();
    } catch (error) {
      if (!VkernelError.isInstance(error)) throw error;
      throw new CliError("VKERNEL", `cannot boot the vkernel: ${error.message.split("\n")[0]}`, {
        cause: error,
      });
    }
  }
  const first = config.guests[0];
  const elf = first === undefined ? undefined : files[first.path];
  if (first === undefined || elf === undefined)
    throw new CliError("VKERNEL", "the vkernel image names no guest");
  return createVkernelSliceProgram({ elf, argv: first.argv, memoryBytes: config.memoryBytes });
}

/** The vkernel's own view of a vkernel image (plain data), or null (not a vkernel, or not readable). */
export async function readVkernelView(images: ImageStore, ref: string): Promise<VkernelView | null> {
  return readView(images, ref);
}

/** For `createStoreTarget`'s `vkernel` option: a vkernel's freeze is written with kind "vkernel". */
export const vkernelImageMap = vkernelImageSection;

/**
 * The validated `vkernel` map of a kind "vkernel" manifest (FORMAT.md §4.1), null for a "process"
 * image; a malformed map is one line (exit 1).
 */
export function vkernelImageOf(manifest: Pick<Manifest, "kind" | "vkernel">): VkernelImageSection | null {
  try {
    return readVkernelSection(manifest);
  } catch (error) {
    if (!VkernelError.isInstance(error)) throw error;
    throw new CliError("VKERNEL", error.message.split("\n")[0] ?? "bad vkernel map", { cause: error });
  }
}
