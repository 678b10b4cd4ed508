import { HostKernelError } from "../errors.ts";

/** A MAC or IPv4 address in text form could not be parsed. */
export class NetAddressError extends HostKernelError {
  constructor(kind: "MAC" | "IPv4", text: string) {
    super("NET_ADDRESS", `invalid ${kind} address ${JSON.stringify(text.slice(0, 40))}`);
  }
}

/** A frame or packet handed to a host-side network API was malformed. */
export class NetDecodeError extends HostKernelError {
  constructor(what: string, problem: string) {
    super("NET_DECODE", `${what}: ${problem}`);
  }
}

/** A bridge operation referred to a port or bridge that does not exist, or clashed with one. */
export class BridgeError extends HostKernelError {
  constructor(bridge: string, problem: string) {
    super("BRIDGE", `bridge ${bridge}: ${problem}`);
  }
}

/** A scripted peer's script line could not be parsed. */
export class PeerScriptError extends HostKernelError {
  constructor(line: number, problem: string) {
    super("PEER_SCRIPT", `peer script line ${line}: ${problem}`);
  }
}

/** A saved network device state (tap, bridge, peer, uplink) was not usable. */
export class NetSnapshotError extends HostKernelError {
  constructor(what: string, problem: string) {
    super("NET_SNAPSHOT", `${what} snapshot: ${problem}`);
  }
}

/** The real UDP socket behind an uplink could not be opened or failed. */
export class UdpUplinkError extends HostKernelError {
  constructor(name: string, problem: string, options?: { cause?: unknown }) {
    super("UDP_UPLINK", `udp uplink ${name}: ${problem}`, options);
  }
}
