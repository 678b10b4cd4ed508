/**
 * A bridge port backed by a real UDP socket on loopback: the one place live input enters the
 * simulated network. Each datagram a real client sends to the socket enters the bridge as an
 * Ethernet/IPv4/UDP frame from the uplink's own address (`ip`) to the guest (`guestIp`,
 * `guestPort`); the guest's replies to that source port go back to the client's real address.
 * Clients are told apart by a small NAT table: a client's simulated source port is its real port
 * when free, else one from 49152 up.
 *
 * Datagrams arriving from the socket wait in an inbox (bounded, drop-tail) until the kernel next
 * polls the bridge, and enter it stamped with that poll's virtual time: the run stays exactly
 * reproducible from the moment each datagram entered, though not across runs.
 */

import { createSocket, type Socket } from "node:dgram";
import type { Bridge, BridgeLink, BridgePort } from "./bridge.ts";
import { type EndpointSnapshot, NetEndpoint } from "./net-endpoint.ts";
import { UdpUplinkError } from "./net-errors.ts";
import { ETHERMTU, formatMac } from "./net-frame.ts";
import { IPV4_HDR_LEN, normalizeIpv4Address, UDP_HDR_LEN } from "./net-ipv4.ts";

/** Largest payload that fits one frame at the default MTU. */
export const UPLINK_MAX_PAYLOAD = ETHERMTU - IPV4_HDR_LEN - UDP_HDR_LEN;
const EPHEMERAL_FIRST = 49152;
const MAX_CLIENTS = 1024;

export interface UdpUplinkOptions {
  /** Port name on the bridge. Default "uplink0". */
  readonly name?: string;
  /** Real UDP port to bind (0 = any free port). Default 0. */
  readonly port?: number;
  /** Real address to bind; must be a loopback address (127.x.y.z). Default "127.0.0.1". */
  readonly bindAddress?: string;
  /** The uplink's MAC on the simulated network. Default 02:75:70:6c:00:01. */
  readonly mac?: string;
  /** The uplink's IPv4 address on the simulated network (source of client datagrams). */
  readonly ip: string;
  /** Where client datagrams go. */
  readonly guestIp: string;
  readonly guestPort: number;
  /** The guest's MAC, if known (else the uplink resolves it with ARP). */
  readonly guestMac?: string;
  /** Most datagrams waiting for the next poll (later ones are dropped). Default 256. */
  readonly maxInbox?: number;
}

/** A real client the uplink has heard from. */
export interface UplinkClient {
  readonly address: string;
  readonly port: number;
  /** Its source port on the simulated network. */
  readonly simPort: number;
}

export interface UplinkStats {
  /** Datagrams from real clients that entered the bridge. */
  fromClients: number;
  /** Datagrams from real clients dropped (inbox full, or larger than UPLINK_MAX_PAYLOAD). */
  fromClientsDropped: number;
  /** Guest datagrams sent to real clients. */
  toClients: number;
  /** Guest datagrams to a source port no client has. */
  toClientsDropped: number;
  /** Socket send failures. */
  sendErrors: number;
}

export interface UdpUplinkSnapshot {
  readonly name: string;
  readonly ip: string;
  readonly guestIp: string;
  readonly guestPort: number;
  readonly maxInbox: number;
  /** The real port that was bound. */
  readonly port: number;
  readonly bindAddress: string;
  readonly endpoint: EndpointSnapshot;
  readonly clients: readonly UplinkClient[];
  readonly nextSimPort: number;
  readonly stats: UplinkStats;
}

interface InboxDatagram {
  readonly address: string;
  readonly port: number;
  readonly payload: Uint8Array;
}

function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

export class UdpUplink implements BridgePort {
  readonly name: string;
  readonly ip: string;
  readonly guestIp: string;
  readonly guestPort: number;
  readonly maxInbox: number;
  readonly stats: UplinkStats = {
    fromClients: 0,
    fromClientsDropped: 0,
    toClients: 0,
    toClientsDropped: 0,
    sendErrors: 0,
  };
  readonly #socket: Socket;
  #endpoint: NetEndpoint;
  #link: BridgeLink | undefined;
  #clients: UplinkClient[] = [];
  #nextSimPort = EPHEMERAL_FIRST;
  readonly #inbox: InboxDatagram[] = [];
  /** One shared promise for every `whenInput` caller until input arrives (no pile-up of waiters). */
  #input: { promise: Promise<void>; resolve: () => void } | undefined;
  #closed = false;
  /** Sends handed to the socket and not yet completed: `close` waits for them, or libuv drops them. */
  readonly #sending = new Set<Promise<void>>();

  private constructor(socket: Socket, options: UdpUplinkOptions) {
    this.#socket = socket;
    this.name = options.name ?? "uplink0";
    this.ip = normalizeIpv4Address(options.ip);
    this.guestIp = normalizeIpv4Address(options.guestIp);
    this.guestPort = options.guestPort;
    this.maxInbox = options.maxInbox ?? 256;
    const mac = options.mac ?? formatMac(Uint8Array.of(0x02, 0x75, 0x70, 0x6c, 0x00, 0x01));
    this.#endpoint = new NetEndpoint(mac, this.ip, (f, now) => this.#link?.send(f, now));
    if (options.guestMac !== undefined) this.#endpoint.setArp(this.guestIp, options.guestMac);
    socket.on("message", (msg, rinfo) => this.#arrive(msg, rinfo.address, rinfo.port));
  }

  /** Bind the real socket (loopback only) and make the port. Throws UdpUplinkError. */
  static async open(options: UdpUplinkOptions, saved?: UdpUplinkSnapshot): Promise<UdpUplink> {
    const name = options.name ?? "uplink0";
    const bindAddress = options.bindAddress ?? "127.0.0.1";
    if (!isLoopback(bindAddress)) throw new UdpUplinkError(name, `${bindAddress} is not a loopback address`);
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 0xffff)
      throw new UdpUplinkError(name, `invalid port ${port}`);
    if (!Number.isInteger(options.guestPort) || options.guestPort < 1 || options.guestPort > 0xffff) {
      throw new UdpUplinkError(name, `invalid guest port ${options.guestPort}`);
    }
    const socket = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new UdpUplinkError(name, `cannot bind ${bindAddress}:${port}`, { cause: error }));
      socket.once("error", onError);
      socket.bind({ port, address: bindAddress, exclusive: true }, () => {
        socket.off("error", onError);
        resolve();
      });
    }).catch((error: unknown) => {
      socket.close();
      throw error;
    });
    let uplink: UdpUplink;
    try {
      uplink = new UdpUplink(socket, options);
    } catch (error) {
      socket.close();
      throw error;
    }
    socket.on("error", () => uplink.stats.sendErrors++);
    if (saved !== undefined) uplink.#restore(saved);
    return uplink;
  }

  /** The real address clients send to. */
  address(): { address: string; port: number } {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  attachTo(bridge: Bridge): BridgeLink {
    this.#link?.detach();
    this.#link = bridge.attach(this);
    return this.#link;
  }

  get endpoint(): NetEndpoint {
    return this.#endpoint;
  }

  /** Clients heard from, oldest first. */
  clients(): UplinkClient[] {
    return [...this.#clients];
  }

  /** Datagrams waiting for the next poll. */
  get pending(): number {
    return this.#inbox.length;
  }

  // ── BridgePort ──────────────────────────────────────────────────────────────────────────────

  receive(frame: Uint8Array, now: number): void {
    const udp = this.#endpoint.handleFrame(frame, now);
    if (udp === undefined) return;
    const client = this.#clients.find((c) => c.simPort === udp.dstPort);
    if (client === undefined || this.#closed) {
      this.stats.toClientsDropped++;
      return;
    }
    this.stats.toClients++;
    const sent = new Promise<void>((resolve) => {
      this.#socket.send(udp.payload.slice(), client.port, client.address, (error) => {
        if (error) this.stats.sendErrors++;
        this.#sending.delete(sent);
        resolve();
      });
    });
    this.#sending.add(sent);
  }

  /** Everything that arrived since the last poll enters the bridge now, in arrival order. */
  tick(now: number): void {
    for (const d of this.#inbox.splice(0)) {
      this.stats.fromClients++;
      this.#endpoint.sendUdp(
        this.guestIp,
        this.#simPortFor(d.address, d.port),
        this.guestPort,
        d.payload,
        now,
      );
    }
  }

  /** 0 ("due now") while datagrams wait for a poll. */
  nextEventTime(): number | undefined {
    return this.#inbox.length > 0 ? 0 : undefined;
  }

  whenInput(): Promise<void> {
    if (this.#inbox.length > 0 || this.#closed) return Promise.resolve();
    if (this.#input === undefined) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#input = { promise, resolve };
    }
    return this.#input.promise;
  }

  /** Unplug, let datagrams already handed to the socket go out, and close it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#link?.detach();
    this.#link = undefined;
    this.#wake();
    await Promise.all(this.#sending);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  /** NAT table, ARP state and counters as plain data (datagrams still in the inbox are not included). */
  snapshot(): UdpUplinkSnapshot {
    const { address, port } = this.address();
    return {
      name: this.name,
      ip: this.ip,
      guestIp: this.guestIp,
      guestPort: this.guestPort,
      maxInbox: this.maxInbox,
      port,
      bindAddress: address,
      endpoint: this.#endpoint.snapshot(),
      clients: this.clients(),
      nextSimPort: this.#nextSimPort,
      stats: { ...this.stats },
    };
  }

  #restore(s: UdpUplinkSnapshot): void {
    this.#endpoint = NetEndpoint.fromSnapshot(s.endpoint, (f, now) => this.#link?.send(f, now));
    this.#clients = s.clients.map((c) => ({ ...c }));
    this.#nextSimPort = s.nextSimPort;
    Object.assign(this.stats, s.stats);
  }

  #arrive(msg: Buffer, address: string, port: number): void {
    if (this.#closed) return;
    if (this.#inbox.length >= this.maxInbox || msg.length > UPLINK_MAX_PAYLOAD) {
      this.stats.fromClientsDropped++;
      return;
    }
    this.#inbox.push({ address, port, payload: Uint8Array.from(msg) });
    this.#wake();
  }

  #wake(): void {
    const input = this.#input;
    this.#input = undefined;
    input?.resolve();
  }

  #simPortFor(address: string, port: number): number {
    const known = this.#clients.find((c) => c.address === address && c.port === port);
    if (known !== undefined) return known.simPort;
    const used = new Set(this.#clients.map((c) => c.simPort));
    let simPort = port;
    if (used.has(simPort) || simPort === 0) {
      do {
        simPort = this.#nextSimPort;
        this.#nextSimPort = this.#nextSimPort >= 0xffff ? EPHEMERAL_FIRST : this.#nextSimPort + 1;
      } while (used.has(simPort));
    }
    this.#clients.push({ address, port, simPort });
    if (this.#clients.length > MAX_CLIENTS) this.#clients.shift();
    return simPort;
  }
}
