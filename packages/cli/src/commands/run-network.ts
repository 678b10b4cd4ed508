import { BridgeRegistry, type KernelOptions, UdpUplink, UdpUplinkError } from "@vkc/host-kernel";
import { InvalidArgumentError } from "commander";
import { CliError, UsageError } from "../errors.ts";
import { type UdpBridgeSpec, uplinkAddresses } from "./boot-options.ts";

/** One `--net BRIDGE:ADDR/PREFIX` of `vkc run`: kernel-wide interface ethN on host bridge BRIDGE. */
export interface NetSpec {
  /** `eth0`, `eth1`, … in the order the flags were given. */
  readonly name: string;
  readonly bridge: string;
  readonly address: string;
  readonly prefixLength: number;
}

/** Key, inside the image's `vkcCli` section, of the network `vkc run` gave the kernel. */
export const NET_SECTION = "network";

/** What a `vkc run` image records of its host network, so `vkc restore` rebuilds it the same. */
export interface RunNetworkRecord {
  readonly interfaces: readonly NetSpec[];
  readonly udpBridge?: UdpBridgeSpec;
}

/** Commander value parser for a repeatable `--net BRIDGE:ADDR/PREFIX` (`br0:10.0.0.1/24`). */
export function netOption(value: string, previous: NetSpec[] = []): NetSpec[] {
  const m = /^([a-z][a-z0-9_-]{0,14}):([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?:\/([0-9]{1,2}))?$/.exec(value.trim());
  const address = m?.[2] ?? "";
  const prefixLength = m?.[3] === undefined ? 24 : Number(m[3]);
  if (m === null || address.split(".").some((o) => Number(o) > 255) || prefixLength < 1 || prefixLength > 30) {
    throw new InvalidArgumentError(
      `--net takes BRIDGE:ADDR/PREFIX with an IPv4 address and a /1../30 prefix (br0:10.0.0.1/24), not '${value}'`,
    );
  }
  if (previous.some((n) => n.address === address))
    throw new InvalidArgumentError(`--net address ${address} is given twice`);
  return [...previous, { name: `eth${previous.length}`, bridge: m[1] as string, address, prefixLength }];
}

/** `--udp-bridge` needs a first `--net` to forward to: a usage error otherwise. */
export function checkRunNetwork(nets: readonly NetSpec[], udpBridge: UdpBridgeSpec | undefined): void {
  if (udpBridge !== undefined && nets.length === 0)
    throw new UsageError("--udp-bridge needs a --net BRIDGE:ADDR/PREFIX to forward to (--net br0:10.0.0.1/24)");
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
    isMap(u) && typeof u.host === "string" && typeof u.port === "number" ? { host: u.host, port: u.port } : undefined;
  return { interfaces, ...(udpBridge === undefined ? {} : { udpBridge }) };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}
