/**
 * Network interfaces of the kernel's IPv4/UDP stack (NETWORK.md "Sockets"). A `Netif` is the
 * driver side: its initial configuration and a way to put a frame on the wire. The host backs
 * one with a port on a bridge (netif-bridge.ts); a vkernel backs one with its vke rings. The
 * device hands every received Ethernet frame to `kernel.netifReceive(index, frame)` between
 * slices. `NetifState` is the kernel side: the live configuration (netif_set changes it), the
 * counters, and the ARP/IPv4 endpoint (dev/net-endpoint.ts, shared with the scripted peer and
 * the UDP uplink) that answers ARP and ping and resolves peers.
 */

import { type EndpointSnapshot, NetEndpoint } from "../dev/net-endpoint.ts";
import { ETHER_HDR_LEN, ETHERTYPE_ARP, frameEthertype, isGroupMac, normalizeMac } from "../dev/net-frame.ts";
import { normalizeIpv4Address, parseIpv4Address } from "../dev/net-ipv4.ts";
import { KernelOptionError } from "../errors.ts";
import type { DeviceHost } from "../fs/file-types.ts";

/** A network interface driver: the configuration it starts with, and its transmit path. */
export interface Netif {
  /** Interface name, 1–15 of A-Z a-z 0-9 _ . - ("eth0", "vke0"). Unique per kernel. */
  readonly name: string;
  /** Lower-case "aa:bb:cc:dd:ee:ff", unicast. */
  readonly mac: string;
  /** IPv4 address (dotted quad) the interface starts with; "0.0.0.0" for none. */
  readonly address: string;
  /** Prefix length of its subnet, 0..32. */
  readonly prefixLength: number;
  /** Largest IPv4 packet, 68..1500. */
  readonly mtu: number;
  /** Put one Ethernet frame on the wire (called synchronously from syscalls and receive). */
  transmit(frame: Uint8Array): void;
}

/** IFF_UP: the interface sends and receives. */
export const IFF_UP = 1;

/** Counters, in the order `netif_get` returns them (`stats[8]`). */
export interface NetifStats {
  rxFrames: number;
  rxBytes: number;
  /** Frames not for us: other destinations, non-IPv4, malformed, or while down. */
  rxDropped: number;
  txFrames: number;
  txBytes: number;
  /** Datagrams dropped while waiting for ARP (more than 16 held per address). */
  txDropped: number;
  /** UDP datagrams for a port no socket is bound to. */
  udpNoPort: number;
  /** UDP datagrams dropped because the socket's receive queue was full. */
  udpQueueFull: number;
}

export const NETIF_STATS_KEYS = [
  "rxFrames",
  "rxBytes",
  "rxDropped",
  "txFrames",
  "txBytes",
  "txDropped",
  "udpNoPort",
  "udpQueueFull",
] as const satisfies readonly (keyof NetifStats)[];

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
export const NETIF_MIN_MTU = 68;
export const NETIF_MAX_MTU = 1500;

/** u32 mask of a prefix length. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}

/** Prefix length of a contiguous u32 mask, or -1 when it is not contiguous. */
export function maskPrefix(mask: number): number {
  const inverted = ~mask >>> 0;
  if ((inverted & (inverted + 1)) !== 0) return -1;
  let n = 0;
  for (let m = mask >>> 0; (m & 0x8000_0000) !== 0; m = (m << 1) >>> 0) n++;
  return n;
}

/** The kernel's view of one attached interface. Plain fields, so a checkpoint can save them. */
export class NetifState {
  readonly index: number;
  readonly name: string;
  readonly driver: Netif;
  readonly mtu: number;
  up = true;
  readonly stats: NetifStats = {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    udpNoPort: 0,
    udpQueueFull: 0,
  };
  #prefixLength: number;
  #endpoint: NetEndpoint;
  readonly #host: DeviceHost;

  /** Validates the driver's configuration; throws KernelOptionError naming the interface. */
  constructor(index: number, driver: Netif, host: DeviceHost) {
    const what = `netif ${JSON.stringify(driver.name)}`;
    if (typeof driver.name !== "string" || !NAME.test(driver.name))
      throw new KernelOptionError(what, "name must be 1-15 of A-Z a-z 0-9 _ . -");
    const mtu = driver.mtu;
    if (!Number.isInteger(mtu) || mtu < NETIF_MIN_MTU || mtu > NETIF_MAX_MTU)
      throw new KernelOptionError(what, `mtu ${mtu} is not ${NETIF_MIN_MTU}..${NETIF_MAX_MTU}`);
    const p = driver.prefixLength;
    if (!Number.isInteger(p) || p < 0 || p > 32)
      throw new KernelOptionError(what, `prefix length ${p} is not 0..32`);
    let mac: string;
    let address: string;
    try {
      mac = normalizeMac(driver.mac);
      address = normalizeIpv4Address(driver.address);
    } catch (error) {
      throw new KernelOptionError(what, error instanceof Error ? error.message : String(error));
    }
    if (isGroupMac(mac)) throw new KernelOptionError(what, `mac ${mac} is a group address`);
    this.index = index;
    this.name = driver.name;
    this.driver = driver;
    this.mtu = mtu;
    this.#host = host;
    this.#prefixLength = p;
    this.#endpoint = new NetEndpoint(mac, address, (frame) => this.#transmit(frame));
  }

  get mac(): string {
    return this.#endpoint.mac;
  }

  get address(): string {
    return this.#endpoint.ip;
  }

  get prefixLength(): number {
    return this.#prefixLength;
  }

  /** The ARP/IPv4 endpoint (ARP cache, datagrams held for ARP, counters). */
  get endpoint(): NetEndpoint {
    return this.#endpoint;
  }

  /** True when `ip` (a u32) is on this interface's subnet. */
  onLink(ip: number): boolean {
    if (this.address === "0.0.0.0") return false;
    const mask = prefixMask(this.#prefixLength);
    return (ip & mask) >>> 0 === (parseIpv4Address(this.address) & mask) >>> 0;
  }

  /** The subnet's broadcast address (a u32). */
  broadcast(): number {
    return (parseIpv4Address(this.address) | ~prefixMask(this.#prefixLength)) >>> 0;
  }

  /** Change address and prefix (netif_set); the ARP cache and counters are kept. */
  configure(address: string, prefixLength: number): void {
    const saved = this.#endpoint.snapshot();
    this.#prefixLength = prefixLength;
    this.#adopt({ ...saved, ip: normalizeIpv4Address(address) });
  }

  /** Replace the endpoint state (ARP cache, held datagrams, counters) with a saved one. */
  restoreEndpoint(saved: EndpointSnapshot): void {
    this.#adopt(saved);
  }

  /**
   * A received frame: ARP and ping are answered here; a UDP datagram for our address is
   * returned for the sockets. Everything else is counted as dropped.
   */
  input(frame: Uint8Array): ReturnType<NetEndpoint["handleFrame"]> {
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    if (!this.up || frame.length < ETHER_HDR_LEN) {
      this.stats.rxDropped++;
      return undefined;
    }
    const e = this.#endpoint;
    const pings = e.stats.pingsAnswered;
    const udp = e.handleFrame(frame, this.#host.now());
    if (udp === undefined && frameEthertype(frame) !== ETHERTYPE_ARP && e.stats.pingsAnswered === pings)
      this.stats.rxDropped++;
    return udp;
  }

  /** The counters as `netif_get` returns them (txDropped comes from the endpoint). */
  statsWords(): number[] {
    this.stats.txDropped = this.#endpoint.stats.pendingDropped;
    return NETIF_STATS_KEYS.map((k) => this.stats[k]);
  }

  /** "a.b.c.d/p" for messages. */
  toString(): string {
    return `${this.name} ${this.address}/${this.#prefixLength}`;
  }

  #adopt(saved: EndpointSnapshot): void {
    this.#endpoint = NetEndpoint.fromSnapshot(saved, (frame) => this.#transmit(frame));
  }

  #transmit(frame: Uint8Array): void {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.driver.transmit(frame);
  }
}
