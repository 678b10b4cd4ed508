/**
 * The kernel's IPv4/UDP stack: its interfaces, the table of bound UDP ports, and the two paths
 * a datagram takes.
 *
 * - Input: a device hands a frame to `receive(index, frame)` (the kernel's `netifReceive`),
 *   always between slices. The interface's endpoint answers ARP and ping and drops what is not
 *   for its MAC and address; a UDP datagram goes to the socket bound to its port (with address
 *   0.0.0.0 or the destination), or is counted (`udpNoPort`, `udpQueueFull`).
 * - Output: `sendto` delivers locally (synchronously, no wire) when the destination is in
 *   127.0.0.0/8 or one of the kernel's own addresses; otherwise it picks the first interface
 *   that is up and has the destination on its subnet (255.255.255.255 and the subnet's broadcast
 *   go to the broadcast MAC), refuses a datagram that does not fit its MTU (-EMSGSIZE: nothing
 *   fragments), and lets the endpoint resolve the peer with ARP (holding up to 16 datagrams per
 *   address until the reply comes) and send it. No route: -ENETUNREACH.
 *
 * One socket per port, whatever address it binds (no SO_REUSEADDR). Ports from 49152 up are
 * handed out in order to sockets that send before binding, so runs are reproducible.
 */

import { BROADCAST_MAC } from "../dev/net-frame.ts";
import { IPV4_HDR_LEN, normalizeIpv4Address, parseIpv4Address, UDP_HDR_LEN } from "../dev/net-ipv4.ts";
import { KernelOptionError } from "../errors.ts";
import type { DeviceHost } from "../fs/file-types.ts";
import { EADDRINUSE, EADDRNOTAVAIL, EINVAL, EMSGSIZE, ENETUNREACH } from "../syscall/errno.ts";
import { type Netif, NetifState } from "./netif.ts";
import { type SocketBinder, UdpSocket, UNBOUND_CHANNEL } from "./socket.ts";

export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;
/** Largest UDP payload (65535 - IPv4 and UDP headers). */
export const UDP_MAX_PAYLOAD = 65535 - IPV4_HDR_LEN - UDP_HDR_LEN;

const LIMITED_BROADCAST = 0xffff_ffff;

export type DeliverResult = "queued" | "no-port" | "queue-full";

export class NetStack implements SocketBinder {
  readonly netifs: NetifState[] = [];
  /** The next port to try for a socket that sends before it binds. */
  nextEphemeral = EPHEMERAL_FIRST;
  /** Datagrams delivered without a wire (to 127.0.0.0/8 or one of our addresses). */
  loopbackDelivered = 0;
  /** Such datagrams no socket took (no port or a full queue). */
  loopbackDropped = 0;
  readonly #bound = new Map<number, UdpSocket>();
  readonly #host: DeviceHost;

  constructor(host: DeviceHost) {
    this.#host = host;
  }

  /** Attach an interface; its index is its position. Throws KernelOptionError. */
  attach(driver: Netif): NetifState {
    if (this.netifs.some((n) => n.name === driver.name))
      throw new KernelOptionError(`netif ${JSON.stringify(driver.name)}`, "name is already taken");
    const state = new NetifState(this.netifs.length, driver, this.#host);
    this.netifs.push(state);
    return state;
  }

  /**
   * Unplug every interface whose driver can be unplugged (the host's bridge ports), for a kernel
   * that is discarded while its bridges live on (a thaw into a new kernel on the same registry).
   */
  detachAll(): void {
    for (const n of this.netifs) {
      const driver = n.driver as Netif & { detach?: () => void };
      driver.detach?.();
    }
  }

  /** A new unbound socket. */
  newSocket(): UdpSocket {
    return new UdpSocket(this, (chan) => this.#host.wakeup(chan));
  }

  /** The socket bound to `port`, if any. */
  boundSocket(port: number): UdpSocket | undefined {
    return this.#bound.get(port);
  }

  /** Bound ports, ascending. */
  boundPorts(): number[] {
    return [...this.#bound.keys()].sort((a, b) => a - b);
  }

  /** A frame from interface `index`'s device (between slices). */
  receive(index: number, frame: Uint8Array): void {
    const netif = this.netifs[index];
    if (netif === undefined) throw new KernelOptionError("netifReceive", `no interface ${index}`);
    const udp = netif.input(frame);
    if (udp === undefined) return;
    const r = this.deliver(udp.dstIp, udp.dstPort, udp.srcIp, udp.srcPort, udp.payload.slice());
    if (r === "no-port") netif.stats.udpNoPort++;
    else if (r === "queue-full") netif.stats.udpQueueFull++;
  }

  /** Queue a datagram on the socket bound to `dstPort` for `dstIp`. */
  deliver(
    dstIp: string,
    dstPort: number,
    srcIp: string,
    srcPort: number,
    payload: Uint8Array,
  ): DeliverResult {
    const socket = this.#bound.get(dstPort);
    if (socket === undefined || (socket.localAddress !== "0.0.0.0" && socket.localAddress !== dstIp))
      return "no-port";
    return socket.enqueue({ address: srcIp, port: srcPort, payload }) ? "queued" : "queue-full";
  }

  /** True for 127.0.0.0/8 and the address of every interface. */
  isLocalAddress(ip: string): boolean {
    if (ip.startsWith("127.")) return true;
    return ip !== "0.0.0.0" && this.netifs.some((n) => n.address === ip);
  }

  /** bind(2): 0, -EINVAL (already bound), -EADDRNOTAVAIL, -EADDRINUSE. */
  bind(socket: UdpSocket, address: string, port: number): number {
    if (socket.localPort !== 0 || socket.closed) return -EINVAL;
    const ip = normalizeIpv4Address(address);
    if (ip !== "0.0.0.0" && !this.isLocalAddress(ip)) return -EADDRNOTAVAIL;
    if (port === 0) {
      const r = this.#ephemeral();
      if (r < 0) return r;
      port = r;
    } else if (this.#bound.has(port)) {
      return -EADDRINUSE;
    }
    socket.localAddress = ip;
    socket.localPort = port;
    this.#bound.set(port, socket);
    // Receivers that slept on the socket before it had a port now sleep on the right channel.
    this.#host.wakeup(UNBOUND_CHANNEL);
    return 0;
  }

  /** Forget a socket's port (close). */
  unbind(socket: UdpSocket): void {
    if (socket.localPort !== 0 && this.#bound.get(socket.localPort) === socket)
      this.#bound.delete(socket.localPort);
  }

  /** Re-register a socket rebuilt from an image with its saved port: 0 or -EADDRINUSE. */
  adopt(socket: UdpSocket): number {
    if (socket.localPort === 0) return 0;
    if (this.#bound.has(socket.localPort)) return -EADDRINUSE;
    this.#bound.set(socket.localPort, socket);
    return 0;
  }

  /** sendto(2) of a UDP payload: its length, or -errno. */
  sendto(socket: UdpSocket, dstIp: string, dstPort: number, payload: Uint8Array): number {
    if (payload.length > UDP_MAX_PAYLOAD) return -EMSGSIZE;
    if (dstPort === 0) return -EINVAL;
    const dst = parseIpv4Address(dstIp);
    if (this.isLocalAddress(dstIp)) {
      if (socket.localPort === 0) {
        const r = this.bind(socket, "0.0.0.0", 0);
        if (r < 0) return r;
      }
      const src = dstIp.startsWith("127.") ? "127.0.0.1" : dstIp;
      const r = this.deliver(dstIp, dstPort, src, socket.localPort, payload.slice());
      if (r === "queued") this.loopbackDelivered++;
      else this.loopbackDropped++;
      return payload.length;
    }
    const netif = this.#route(dst);
    if (netif === undefined) return -ENETUNREACH;
    if (payload.length + IPV4_HDR_LEN + UDP_HDR_LEN > netif.mtu) return -EMSGSIZE;
    if (socket.localPort === 0) {
      const r = this.bind(socket, "0.0.0.0", 0);
      if (r < 0) return r;
    }
    const now = this.#host.now();
    if (dst === LIMITED_BROADCAST || dst === netif.broadcast()) {
      netif.endpoint.sendUdpTo(BROADCAST_MAC, dstIp, socket.localPort, dstPort, payload, now);
    } else {
      netif.endpoint.sendUdp(dstIp, socket.localPort, dstPort, payload, now);
    }
    return payload.length;
  }

  /** The first interface that is up and has `dst` on its subnet (any with an address for 255.255.255.255). */
  #route(dst: number): NetifState | undefined {
    for (const n of this.netifs) {
      if (!n.up || n.address === "0.0.0.0") continue;
      if (dst === LIMITED_BROADCAST || n.onLink(dst)) return n;
    }
    return undefined;
  }

  #ephemeral(): number {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < span; i++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port >= EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
      if (!this.#bound.has(port)) return port;
    }
    return -EADDRINUSE;
  }
}
