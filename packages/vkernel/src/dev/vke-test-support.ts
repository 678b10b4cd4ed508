/**
 * Test helpers for vke: a host kernel with a bridge (br0) and tap units, vkernels booted on it
 * (several may share the bridge, each under its own native path), scripted peers, and the thaw
 * of a vkernel image into a fresh host kernel that carries the bridge (and its peers) over.
 */
import type { ImageStore } from "@vkc/checkpoint";
import {
  BridgeRegistry,
  createKernel,
  createStoreTarget,
  guestProgram,
  type Kernel,
  type KernelOptions,
  NetPeer,
  thawProcess,
} from "@vkc/host-kernel";
import { vkernelImageSection } from "../ckpt/image-section.ts";
import { VKERNEL_PATH, type VkernelConfig } from "../vkernel-config.ts";
import { createVkernelProgram } from "../vkernel-program.ts";
import { concat, type TestGuest } from "../vkernel-test-support.ts";

/** One vkernel to boot on the shared host: its guests and config (taps included). */
export interface NetVkernel {
  guests: readonly TestGuest[];
  config: Partial<VkernelConfig>;
}

/** A host kernel with br0, `taps` tap units and the given vkernels spawned. */
export interface NetHost {
  kernel: Kernel;
  bridges: BridgeRegistry;
  chunks: Uint8Array[];
  pids: number[];
}

const text = (chunks: Uint8Array[]): string =>
  new TextDecoder().decode(concat(chunks)).replaceAll("\r\n", "\n");

export { text as consoleText };

/** The native path of the `i`-th vkernel (the first is /boot/vkernel). */
const pathOf = (i: number): string => (i === 0 ? VKERNEL_PATH : `${VKERNEL_PATH}${i}`);

/** Boot `vkernels` (each with 1 vCPU and 64 MiB unless its config says otherwise) on one host. */
export function bootNetHost(
  vkernels: readonly NetVkernel[],
  opts: { taps?: number; images?: ImageStore; bridges?: BridgeRegistry; host?: KernelOptions } = {},
): NetHost {
  const bridges = opts.bridges ?? new BridgeRegistry();
  if (bridges.get("br0") === undefined) bridges.create("br0");
  const chunks: Uint8Array[] = [];
  const files: Record<string, Uint8Array> = {};
  const natives: KernelOptions["natives"] & object = {};
  const progs: Record<string, ReturnType<typeof createVkernelProgram>> = {};
  for (const [i, v] of vkernels.entries()) {
    for (const g of v.guests) files[`/guest/${g.program}`] = guestProgram(g.program);
    progs[pathOf(i)] = createVkernelProgram({
      vcpus: 1,
      memoryBytes: 64 * 1024 * 1024,
      guests: v.guests.map((g) => ({ path: `/guest/${g.program}`, argv: [g.program, ...g.args] })),
      ...v.config,
    });
  }
  Object.assign(natives, progs);
  const kernel = createKernel({
    ...opts.host,
    console: { write: (b) => chunks.push(b.slice()) },
    files,
    natives,
    network: { bridges, taps: opts.taps ?? 4 },
    ...(opts.images !== undefined
      ? { checkpointTarget: createStoreTarget(opts.images, { vkernel: vkernelImageSection }) }
      : {}),
  });
  const pids = vkernels.map((_, i) => kernel.spawn({ path: pathOf(i), argv: ["vkernel"] }));
  return { kernel, bridges, chunks, pids };
}

/** A scripted peer on br0. */
export function addPeer(bridges: BridgeRegistry, name: string, script: string): NetPeer {
  const peer = new NetPeer(name, script);
  const br = bridges.get("br0");
  if (br === undefined) throw new Error("no br0");
  peer.attachTo(br);
  return peer;
}

/**
 * Thaw vkernel image `ref` into a fresh host kernel whose bridge registry is `bridges` (the old
 * host's, carried over: its queued frames and attached peers), with `taps` tap units, as
 * `vkc restore` re-creates the host network before the vkernel reopens its taps.
 */
export async function thawNetVkernel(
  images: ImageStore,
  bridges: BridgeRegistry,
  opts: { taps?: number; ref?: string } = {},
): Promise<{ kernel: Kernel; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = [];
  const { kernel } = await thawProcess(images, opts.ref ?? "latest", {
    console: { write: (b) => chunks.push(b.slice()) },
    natives: { [VKERNEL_PATH]: createVkernelProgram() },
    checkpointTarget: createStoreTarget(images, { vkernel: vkernelImageSection }),
    network: { bridges, taps: opts.taps ?? 4 },
  });
  return { kernel, chunks };
}
