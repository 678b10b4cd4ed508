import { BridgeRegistry, type KernelOptions, UdpUplink, UdpUplinkError } from "@vkc/host-kernel";
import { CliError, UsageError } from "../errors.ts";
import { type TapSpec, type UdpBridgeSpec, uplinkAddresses } from "./boot-options.ts";

/** The bridge every `--tap` of `vkc boot` is meant to join (the vkernel attaches its vke to it). */
export const BOOT_BRIDGE = "br0";

/** The host side of a vkernel's network: the kernel's `network` option and the uplink, if any. */
export interface BootNetwork {
  readonly network: KernelOptions["network"] | undefined;
  /** Where real UDP clients send (`--udp-bridge`), or null. */
  readonly uplink: { address: string; port: number } | null;
  close(): Promise<void>;
}

/** `--udp-bridge` needs a first `--tap` with an address to forward to: a usage error otherwise. */
export function checkBootNetwork(taps: readonly TapSpec[], udpBridge: UdpBridgeSpec | undefined): void {
  if (udpBridge === undefined) return;
  const first = taps[0];
  if (first === undefined) throw new UsageError("--udp-bridge needs a --tap tapN:ADDR to forward to");
  if (first.address === undefined) {
    throw new UsageError(`--udp-bridge needs an address on the first tap (--tap ${first.name}:10.0.0.2/24)`);
  }
}

/**
 * Build the host network `vkc boot` (and the restore of its images) needs: no network without
 * taps; else a bridge br0, tap units up to the highest `--tap`, and with `--udp-bridge` a
 * `UdpUplink` on br0 that forwards real datagrams to the first tap's address, same port.
 */
export async function openBootNetwork(
  taps: readonly TapSpec[],
  udpBridge: UdpBridgeSpec | undefined,
): Promise<BootNetwork> {
  checkBootNetwork(taps, udpBridge);
  if (taps.length === 0) return { network: undefined, uplink: null, close: async () => {} };
  const bridges = new BridgeRegistry();
  const bridge = bridges.create(BOOT_BRIDGE);
  const network = { bridges, taps: Math.max(...taps.map((t) => t.unit)) + 1 };
  if (udpBridge === undefined) return { network, uplink: null, close: async () => {} };
  const uplink = await openUplink(udpBridge, uplinkAddresses(taps[0] as TapSpec));
  uplink.attachTo(bridge);
  return { network, uplink: uplink.address(), close: () => uplink.close() };
}

/**
 * The `UdpUplink` of `--udp-bridge` (vkc run and vkc boot): real datagrams to HOST:PORT go to
 * `guestIp`, same port unless the image recorded another; a port in use is one CLI line.
 */
export async function openUplink(
  udpBridge: UdpBridgeSpec,
  { guestIp, uplinkIp }: { guestIp: string; uplinkIp: string },
): Promise<UdpUplink> {
  try {
    return await UdpUplink.open({
      bindAddress: udpBridge.host,
      port: udpBridge.port,
      ip: uplinkIp,
      guestIp,
      guestPort: udpBridge.guestPort ?? udpBridge.port,
    });
  } catch (error) {
    if (!UdpUplinkError.isInstance(error)) throw error;
    const message = (error as Error).message.split("\n")[0] ?? "";
    throw new CliError("UDP_BRIDGE", `--udp-bridge ${udpBridge.host}:${udpBridge.port}: ${message}`, {
      cause: error,
    });
  }
}
