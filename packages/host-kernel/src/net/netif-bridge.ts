/**
 * The host's network interface driver: a kernel-internal port on a bridge of the kernel's
 * `BridgeRegistry` (KernelOptions.network.interfaces). Frames the bridge delivers reach the
 * kernel's stack at once (bridges deliver from `bridges.poll`, which the run loop calls between
 * slices); frames the stack sends enter the bridge at the kernel's virtual time. Like a tap,
 * it is not a live port: the run stays deterministic.
 */

import type { Bridge, BridgeLink, BridgePort } from "../dev/bridge.ts";
import { ETHER_HDR_LEN, ETHERMTU, formatMac } from "../dev/net-frame.ts";
import type { DeviceHost } from "../fs/file-types.ts";
import type { Netif } from "./netif.ts";

/** One entry of `KernelOptions.network.interfaces`. */
export interface BridgeNetifOptions {
  /** Interface name, also its port name on the bridge ("eth0"). */
  readonly name: string;
  /** The bridge (in `network.bridges`) to plug into. */
  readonly bridge: string;
  /** IPv4 address, dotted quad. */
  readonly address: string;
  readonly prefixLength: number;
  /** Default 02:76:6b:63:00:NN, NN = the interface's index in the list. */
  readonly mac?: string;
  /** Default 1500. */
  readonly mtu?: number;
}

/** The MAC an interface gets by default: 02:76:6b:63:ii:ii ("vkc", index in the last two bytes). */
export function defaultNetifMac(index: number): string {
  return formatMac(Uint8Array.of(0x02, 0x76, 0x6b, 0x63, (index >>> 8) & 0xff, index & 0xff));
}

export class BridgeNetif implements Netif, BridgePort {
  readonly name: string;
  readonly mac: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly mtu: number;
  readonly bridgeName: string;
  readonly #host: DeviceHost;
  #link: BridgeLink | undefined;
  #onReceive: ((frame: Uint8Array) => void) | undefined;

  constructor(options: BridgeNetifOptions, index: number, host: DeviceHost) {
    this.name = options.name;
    this.mac = options.mac ?? defaultNetifMac(index);
    this.address = options.address;
    this.prefixLength = options.prefixLength;
    this.mtu = options.mtu ?? ETHERMTU;
    this.bridgeName = options.bridge;
    this.#host = host;
  }

  get maxFrameLength(): number {
    return ETHER_HDR_LEN + this.mtu;
  }

  /** Plug into `bridge`; received frames go to `onReceive`. */
  attach(bridge: Bridge, onReceive: (frame: Uint8Array) => void): void {
    this.#onReceive = onReceive;
    this.#link = bridge.attach(this);
  }

  detach(): void {
    this.#link?.detach();
    this.#link = undefined;
  }

  receive(frame: Uint8Array, _now: number): void {
    this.#onReceive?.(frame);
  }

  transmit(frame: Uint8Array): void {
    this.#link?.send(frame, this.#host.now());
  }
}
