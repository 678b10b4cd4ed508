import { vkeInterfaces } from "./dev/vke-config.ts";
import { VkernelConfigError } from "./errors.ts";
import { MEMIMG_BASE, PAGE_BYTES } from "./memimage-layout.ts";

/** Where `/boot/vkernel` is registered (the CLI's `natives` key). */
export const VKERNEL_PATH = "/boot/vkernel";

/** One guest the vkernel starts at boot: a host VFS path (read at boot) and its argv. */
export interface VkernelGuest {
  readonly path: string;
  readonly argv: readonly string[];
}

/** A host tap the vkernel attaches a vke to (DESIGN.md §4.1; dev/vke-*.ts). */
export interface VkernelTap {
  /** Host tap node, "/dev/tap0".."/dev/tap63". */
  readonly device: string;
  /** The vke's IPv4 address and prefix, "10.0.0.2/24" (a bare address gets /24; none: 0.0.0.0). */
  readonly address?: string;
  /** Host bridge the tap is plugged into (default "br0", the one `vkc boot` creates). */
  readonly bridge?: string;
}

/**
 * Test-only switches (DESIGN.md §7): each names a checkpoint-protocol step to leave out, so a
 * test can show that removing it breaks the law. Not part of the public contract.
 */
export interface VkernelTestHooks {
  readonly skipStep?: readonly string[];
}

/** What `vkc boot` asks for. Plain data: it becomes the native program's initial state. */
export interface VkernelConfig {
  /** Virtual CPUs, 1..64. */
  readonly vcpus: number;
  /** memimage size in bytes, a multiple of 4096 (at most 1 GiB). */
  readonly memoryBytes: number;
  /** Guests started at boot, in order; the first one's exit status is the vkernel's. */
  readonly guests: readonly VkernelGuest[];
  readonly taps?: readonly VkernelTap[];
  /** The inner kernel's PRNG seed (default 1). */
  readonly seed?: number;
  /** The inner kernel's quantum (default 10 000). */
  readonly quantum?: number;
  /** @internal */
  readonly testHooks?: VkernelTestHooks;
}

/** Largest memimage: it sits at MEMIMG_BASE below the guest-window limit. */
export const MAX_MEMORY_BYTES = 0x4000_0000;

/** Check a config; throws VkernelConfigError naming the field. */
export function validateConfig(config: VkernelConfig): VkernelConfig {
  const { vcpus, memoryBytes, guests } = config;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64)
    throw new VkernelConfigError("vcpus", `${vcpus} is not 1..64`);
  if (
    !Number.isInteger(memoryBytes) ||
    memoryBytes < 16 * PAGE_BYTES ||
    memoryBytes % PAGE_BYTES !== 0 ||
    memoryBytes > MAX_MEMORY_BYTES ||
    MEMIMG_BASE + memoryBytes > 0xc000_0000
  )
    throw new VkernelConfigError(
      "memoryBytes",
      `${memoryBytes} is not a multiple of 4096 in [64 KiB, 1 GiB]`,
    );
  if (guests.length === 0) throw new VkernelConfigError("guests", "at least one guest is needed");
  for (const g of guests) {
    if (typeof g.path !== "string" || !g.path.startsWith("/"))
      throw new VkernelConfigError("guests", `path ${JSON.stringify(g.path)} is not absolute`);
  }
  vkeInterfaces(config.taps); // throws VkernelConfigError("taps", …) for a bad entry
  const seed = config.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)
    throw new VkernelConfigError("seed", `${seed} is not a u32`);
  const quantum = config.quantum ?? 10_000;
  if (!Number.isInteger(quantum) || quantum < 1)
    throw new VkernelConfigError("quantum", `${quantum} is not >= 1`);
  return config;
}
