import type { UdpBridgeSpec } from "./boot-options.ts";
import type { NetSpec } from "./net-options.ts";

/** Key of the CLI's section in a manifest's `extensions` (run.ts's `CLI_EXTENSION`). */
const CLI_SECTION = "vkcCli";

/** Key, inside the image's `vkcCli` section, of the network `vkc run` gave the kernel. */
export const NET_SECTION = "network";

/** What a `vkc run` image records of its host network, so `vkc restore` rebuilds it the same. */
export interface RunNetworkRecord {
  readonly interfaces: readonly NetSpec[];
  readonly udpBridge?: UdpBridgeSpec;
}

/** The record as the CBOR-ready map stored under `vkcCli.network` (empty when there is no network). */
export function runNetworkSection(nets: readonly NetSpec[], udpBridge: UdpBridgeSpec | undefined) {
  if (nets.length === 0) return {};
  const record: RunNetworkRecord = { interfaces: nets, ...(udpBridge === undefined ? {} : { udpBridge }) };
  return { [NET_SECTION]: JSON.parse(JSON.stringify(record)) as Record<string, never> };
}

/** The network record of a `vkc run` image (its `vkcCli` extension section); none: no interfaces. */
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
      ? { host: u.host, port: u.port, ...(typeof u.guestPort === "number" ? { guestPort: u.guestPort } : {}) }
      : undefined;
  return { interfaces, ...(udpBridge === undefined ? {} : { udpBridge }) };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** The network record of a manifest's extensions (`extensions.vkcCli.network`). */
export function manifestRunNetwork(
  extensions: Readonly<Record<string, unknown>> | undefined,
): RunNetworkRecord {
  return readRunNetwork(extensions?.[CLI_SECTION]);
}
