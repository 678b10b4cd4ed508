import { BridgeRegistry, type KernelOptions } from "@vkc/host-kernel";
import { UsageError } from "../errors.ts";
import { openUplink } from "./boot-network.ts";
import { type UdpBridgeSpec, uplinkAddresses } from "./boot-options.ts";
import type { NetSpec } from "./net-options.ts";

export type { NetSpec } from "./net-options.ts";
export { NET_SECTION, type RunNetworkRecord, readRunNetwork, runNetworkSection } from "./net-record.ts";

/** `--udp-bridge` needs a first `--net` to forward to: a usage error otherwise. */
export function checkRunNetwork(nets: readonly NetSpec[], udpBridge: UdpBridgeSpec | undefined): void {
  if (udpBridge !== undefined && nets.length === 0)
    throw new UsageError(
      "--udp-bridge needs a --net BRIDGE:ADDR/PREFIX to forward to (--net br0:10.0.0.1/24)",
    );
}

/** The host network of a `vkc run` kernel: its `network` option and the uplink, if any. */
export interface RunNetwork {
  readonly network: KernelOptions["network"] | undefined;
  /** Where real UDP clients send (`--udp-bridge`), or null. */
  readonly uplink: { address: string; port: number } | null;
  close(): Promise<void>;
}

/**
 * Build the host network of `vkc run` (and the restore of its images): each `--net` is interface
 * ethN (default MAC and MTU) on its bridge, created once per name; with `--udp-bridge` a
 * `UdpUplink` on the first interface's bridge forwards real datagrams to its address, same port.
 */
export async function openRunNetwork(
  nets: readonly NetSpec[],
  udpBridge: UdpBridgeSpec | undefined,
): Promise<RunNetwork> {
  checkRunNetwork(nets, udpBridge);
  if (nets.length === 0) return { network: undefined, uplink: null, close: async () => {} };
  const bridges = new BridgeRegistry();
  for (const name of new Set(nets.map((n) => n.bridge))) bridges.create(name);
  const interfaces = nets.map((n) => ({ ...n }));
  const network = { bridges, interfaces };
  if (udpBridge === undefined) return { network, uplink: null, close: async () => {} };
  const first = nets[0] as NetSpec;
  const uplink = await openUplink(
    udpBridge,
    uplinkAddresses({ name: first.name, unit: 0, address: `${first.address}/${first.prefixLength}` }),
  );
  const bridge = bridges.get(first.bridge);
  if (bridge !== undefined) uplink.attachTo(bridge);
  return { network, uplink: uplink.address(), close: () => uplink.close() };
}
