import type { ImageStore, Manifest } from "@vkc/checkpoint";
import type { NativeProgram } from "@vkc/host-kernel";
import {
  createVkernelProgram,
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
 * demo make the vkernel program and read its view only through here.
 */

export { VKERNEL_PATH };

/** The vkernel's configuration (the package's `VkernelConfig`): guests are host VFS paths. */
export type BootConfig = Omit<VkernelConfig, "testHooks">;

/**
 * The `/boot/vkernel` program: for a boot, made from `config`; for a restore, with no config (the
 * vkernel's state is in the image). A config the vkernel refuses is one line (exit 1).
 */
export function vkernelProgram(config: BootConfig, mode: "boot" | "restore"): NativeProgram {
  try {
    return mode === "boot" ? createVkernelProgram(config) : createVkernelProgram();
  } catch (error) {
    if (!VkernelError.isInstance(error)) throw error;
    throw new CliError("VKERNEL", `cannot boot the vkernel: ${error.message.split("\n")[0]}`, {
      cause: error,
    });
  }
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
