import { BridgeRegistry, type KernelOptions, UdpUplink, UdpUplinkError } from "@vkc/host-kernel";
import { CliError, UsageError } from "../errors.ts";
import { type UdpBridgeSpec, uplinkAddresses } from "./boot-options.ts";
import type { NetSpec } from "./net-options.ts";

export type { NetSpec } from "./net-options.ts";

/** Key, inside the image's `vkcCli` section, of the network `vkc run` gave the kernel. */
export const NET_SECTION = "network";

/** What a `vkc run` image records of its host network, so `vkc restore` rebuilds it the same. */
export interface RunNetworkRecord {
  readonly interfaces: readonly NetSpec[];
  readonly udpBridge?: UdpBridgeSpec;
}

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
  const { guestIp, uplinkIp } = uplinkAddresses({
    name: first.name,
    unit: 0,
    address: `${first.address}/${first.prefixLength}`,
  });
  let uplink: UdpUplink;
  try {
    uplink = await UdpUplink.open({
      bindAddress: udpBridge.host,
      port: udpBridge.port,
      ip: uplinkIp,
      guestIp,
      guestPort: udpBridge.port,
    });
  } catch (error) {
    if (!UdpUplinkError.isInstance(error)) throw error;
    const message = (error as Error).message.split("\n")[0] ?? "";
    throw new CliError("UDP_BRIDGE", `--udp-bridge ${udpBridge.host}:${udpBridge.port}: ${message}`, {
      cause: error,
    });
  }
  const bridge = bridges.get(first.bridge);
  if (bridge !== undefined) uplink.attachTo(bridge);
  return { network, uplink: uplink.address(), close: () => uplink.close() };
}

/** The record as the CBOR-ready map stored under `vkcCli.network` (empty when there is no network). */
export function runNetworkSection(nets: readonly NetSpec[], udpBridge: UdpBridgeSpec | undefined) {
  if (nets.length === 0) return {};
  const record: RunNetworkRecord = { interfaces: nets, ...(udpBridge === undefined ? {} : { udpBridge }) };
  return { [NET_SECTION]: JSON.parse(JSON.stringify(record)) as Record<string, never> };
}

/** The network record of a `vkc run` image's `vkcCli` section; none: no interfaces. */
export function readRunNetwork(section: unknown): RunNetworkRecord {
  const net = isMap(section) ? section[NET_SECTION] : undefined;
  if (!isMap(net)) return { interfaces: [] };
  const interfaces = (Array.isArray(net.interfaces) ? net.interfaces : []).filter(isMap).map((n, i) => ({
    name: typeof n.name === "string" ? n.name : `eth${i}`,
    bridge: String(n.bridge),
    address: String(n.address),
    prefixLength: typeof n.prefixLength === "number" ? n.prefixLength : 24,
  }));
  const u = net.udpBridge;
  const udpBridge =
    isMap(u) && typeof u.host === "string" && typeof u.port === "number"
      ? { host: u.host, port: u.port }
      : undefined;
  return { interfaces, ...(udpBridge === undefined ? {} : { udpBridge }) };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}
