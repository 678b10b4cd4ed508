/**
 * Sockets and interfaces as plain CBOR data, for freeze/thaw (the image model's format 1.2
 * "socket" descriptor) and for describe/rebuild of a whole kernel. Each rebuild function
 * validates every field first and throws one `NetImageError` naming the bad field's path, so
 * nothing is half-built; none needs anything but the kernel.
 *
 * - socket: `{domain: 2, type: 2, address: bstr(4), port, nonblocking, queued: [{address:
 *   bstr(4), port, payload: bstr}], dropped}` — the fields of a SocketDescriptorImage without
 *   fd, cloexec and kind.
 * - netif: `{name, mac, address, prefixLength, mtu, up, stats: {…}, endpoint: {ipId, arpCache:
 *   [{ip, mac}], pending: [{dstIp, srcPort, dstPort, payload}], arpAsked: [{ip, at}], stats}}`
 *   (addresses as text); rebuilt onto the interface of the same index and name, which the
 *   kernel's options attached (a driver cannot be saved).
 * - stack: `{nextEphemeral, loopbackDelivered, loopbackDropped, netifs: [netif…]}`.
 */

import type { CborMap, CborValue, SocketDescriptorImage } from "@vkc/checkpoint";
import type { EndpointSnapshot, EndpointStats } from "../dev/net-endpoint.ts";
import { normalizeMac } from "../dev/net-frame.ts";
import { formatIpv4Address, normalizeIpv4Address, parseIpv4Address } from "../dev/net-ipv4.ts";
import { newOpenFile } from "../fs/fd-table.ts";
import { O_NONBLOCK, O_RDWR, type OpenFile } from "../fs/file-types.ts";
import type { Kernel } from "../kernel.ts";
import { EPHEMERAL_FIRST, EPHEMERAL_LAST, UDP_MAX_PAYLOAD } from "./net-stack.ts";
import { NETIF_STATS_KEYS, type NetifState, type NetifStats } from "./netif.ts";
import { isUdpSocket, SOCKET_MAX_QUEUE, SOCKET_MAX_QUEUE_BYTES, type UdpSocket } from "./socket.ts";
import { NetImageError } from "./socket-errors.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
/** Bounds on what an endpoint image may hold (a real one holds far less). */
const MAX_ARP_ENTRIES = 4096;
const MAX_PENDING = 4096;

// ── sockets ──────────────────────────────────────────────────────────────────────────────────

function addressBytes(ip: string): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, parseIpv4Address(ip));
  return b;
}

function addressText(b: Uint8Array): string {
  return formatIpv4Address(new DataView(b.buffer, b.byteOffset, 4).getUint32(0));
}

function socketOf(file: OpenFile): UdpSocket {
  if (!isUdpSocket(file.ops)) throw new NetImageError("socket", `the open file is a ${file.ops.kind}`);
  return file.ops;
}

/** The socket's state (copies of its queued datagrams). */
export function socketImage(file: OpenFile): CborMap {
  const s = socketOf(file);
  return {
    domain: AF_INET,
    type: SOCK_DGRAM,
    address: addressBytes(s.localAddress),
    port: s.localPort,
    nonblocking: (file.flags & O_NONBLOCK) !== 0,
    queued: s.queue.map((d) => ({
      address: addressBytes(d.address),
      port: d.port,
      payload: d.payload.slice(),
    })),
    dropped: s.dropped,
  };
}

/** The image model's descriptor for descriptor `fd` of an open socket. */
export function socketDescriptorImage(fd: number, cloexec: boolean, file: OpenFile): SocketDescriptorImage {
  const m = socketImage(file);
  return {
    fd,
    cloexec,
    kind: "socket",
    domain: AF_INET,
    type: SOCK_DGRAM,
    address: m.address as Uint8Array,
    port: m.port as number,
    nonblocking: m.nonblocking as boolean,
    queued: (m.queued as CborMap[]).map((d) => ({
      address: d.address as Uint8Array,
      port: d.port as number,
      payload: d.payload as Uint8Array,
    })),
    dropped: m.dropped as number,
  };
}

/**
 * A socket from its image (a CborMap, or a SocketDescriptorImage), bound again to its saved port
 * in `kernel`: a new open file (no descriptor refers to it yet). Throws NetImageError.
 */
export function rebuildSocket(kernel: Kernel, m: CborMap | SocketDescriptorImage, path: string): OpenFile {
  const r: Reader = new Reader(m as unknown as Record<string, unknown>, path);
  if (r.int("domain", 0, 0xffff) !== AF_INET) r.fail("domain", "only AF_INET (2) sockets exist");
  if (r.int("type", 0, 0xffff) !== SOCK_DGRAM) r.fail("type", "only SOCK_DGRAM (2) sockets exist");
  const address = addressText(r.bytes("address", 4));
  const port = r.int("port", 0, 65535);
  const nonblocking = r.bool("nonblocking");
  const queued = r.list("queued", SOCKET_MAX_QUEUE, (q) => ({
    address: addressText(q.bytes("address", 4)),
    port: q.int("port", 0, 65535),
    payload: q.bytes("payload").slice(),
  }));
  if (queued.reduce((n, d) => n + d.payload.length, 0) > SOCKET_MAX_QUEUE_BYTES)
    r.fail("queued", `more than ${SOCKET_MAX_QUEUE_BYTES} bytes`);
  if (queued.some((d) => d.payload.length > UDP_MAX_PAYLOAD)) r.fail("queued", "a datagram is too long");
  const dropped = r.optionalInt("dropped") ?? 0;
  const socket = kernel.net.newSocket();
  socket.localAddress = address;
  socket.localPort = port;
  socket.dropped = dropped;
  for (const d of queued) {
    socket.queue.push(d);
    socket.queuedBytes += d.payload.length;
  }
  if (kernel.net.adopt(socket) < 0) r.fail("port", `port ${port} is already bound in this kernel`);
  return newOpenFile(socket, O_RDWR | (nonblocking ? O_NONBLOCK : 0));
}

// ── interfaces ───────────────────────────────────────────────────────────────────────────────

/** An interface's configuration, counters and ARP state. */
export function netifImage(n: NetifState): CborMap {
  const e = n.endpoint.snapshot();
  n.statsWords(); // refresh txDropped
  return {
    name: n.name,
    mac: n.mac,
    address: n.address,
    prefixLength: n.prefixLength,
    mtu: n.mtu,
    up: n.up,
    stats: { ...n.stats },
    endpoint: {
      ipId: e.ipId,
      arpCache: e.arpCache.map((a) => ({ ip: a.ip, mac: a.mac })),
      pending: e.pending.map((p) => ({
        dstIp: p.dstIp,
        srcPort: p.srcPort,
        dstPort: p.dstPort,
        payload: p.payload.slice(),
      })),
      arpAsked: e.arpAsked.map((a) => ({ ip: a.ip, at: a.at })),
      stats: { ...e.stats },
    },
  };
}

interface NetifPlan {
  readonly netif: NetifState;
  readonly address: string;
  readonly prefixLength: number;
  readonly up: boolean;
  readonly stats: NetifStats;
  readonly endpoint: EndpointSnapshot;
}

function planNetif(kernel: Kernel, index: number, m: CborMap, path: string): NetifPlan {
  const r: Reader = new Reader(m as unknown as Record<string, unknown>, path);
  const netif = kernel.net.netifs[index];
  const name = r.text("name");
  if (netif === undefined)
    r.fail("name", `this kernel has no interface ${index} (for ${JSON.stringify(name)})`);
  if (netif.name !== name)
    r.fail("name", `interface ${index} is ${JSON.stringify(netif.name)}, not ${JSON.stringify(name)}`);
  const mac = r.mac("mac");
  if (mac !== netif.mac) r.fail("mac", `interface ${name} has mac ${netif.mac}, not ${mac}`);
  if (r.int("mtu", 0, 65535) !== netif.mtu) r.fail("mtu", `interface ${name} has mtu ${netif.mtu}`);
  const address = r.ip("address");
  const prefixLength = r.int("prefixLength", 0, 32);
  const up = r.bool("up");
  const stats = r.map("stats", (s) => {
    const out = {} as NetifStats;
    for (const k of NETIF_STATS_KEYS) out[k] = s.int(k);
    return out;
  });
  const endpoint = r.map("endpoint", (e): EndpointSnapshot => {
    const ipId = e.int("ipId", 0, 0xffff);
    const arpCache = e.list("arpCache", MAX_ARP_ENTRIES, (a) => ({ ip: a.ip("ip"), mac: a.mac("mac") }));
    const pending = e.list("pending", MAX_PENDING, (p) => ({
      dstIp: p.ip("dstIp"),
      srcPort: p.int("srcPort", 0, 65535),
      dstPort: p.int("dstPort", 0, 65535),
      payload: p.bytes("payload").slice(),
    }));
    const arpAsked = e.list("arpAsked", MAX_ARP_ENTRIES, (a) => ({ ip: a.ip("ip"), at: a.int("at") }));
    const stats = e.map("stats", (s) => {
      const keys: (keyof EndpointStats)[] = [
        "arpRequestsAnswered",
        "arpRequestsSent",
        "pingsAnswered",
        "udpReceived",
        "udpSent",
        "malformed",
        "pendingDropped",
      ];
      const out = {} as EndpointStats;
      for (const k of keys) out[k] = s.int(k);
      return out;
    });
    const answer = netif.endpoint;
    return {
      mac,
      ip: address,
      answerArp: answer.answerArp,
      answerPing: answer.answerPing,
      ipId,
      arpCache,
      pending,
      arpAsked,
      stats,
    };
  });
  return { netif, address, prefixLength, up, stats, endpoint };
}

function applyNetif(plan: NetifPlan): void {
  const n = plan.netif;
  n.configure(plan.address, plan.prefixLength);
  n.restoreEndpoint(plan.endpoint);
  n.up = plan.up;
  Object.assign(n.stats, plan.stats);
}

/**
 * Restore interface `index` (attached by the kernel's options, with the same name, MAC and MTU)
 * to a saved state: address, prefix, up, counters, ARP cache and datagrams held for ARP.
 */
export function rebuildNetif(kernel: Kernel, index: number, m: CborMap, path: string): void {
  applyNetif(planNetif(kernel, index, m, path));
}

/** The kernel's whole network state: every interface and the ephemeral port counter. */
export function netStackImage(kernel: Kernel): CborMap {
  const s = kernel.net;
  return {
    nextEphemeral: s.nextEphemeral,
    loopbackDelivered: s.loopbackDelivered,
    loopbackDropped: s.loopbackDropped,
    netifs: s.netifs.map(netifImage),
  };
}

/** Restore `netStackImage` onto a kernel with the same interfaces (validated first, then applied). */
export function rebuildNetStack(kernel: Kernel, m: CborMap, path: string): void {
  const r: Reader = new Reader(m as unknown as Record<string, unknown>, path);
  const nextEphemeral = r.int("nextEphemeral", EPHEMERAL_FIRST, EPHEMERAL_LAST);
  const loopbackDelivered = r.int("loopbackDelivered");
  const loopbackDropped = r.int("loopbackDropped");
  const raw = r.list("netifs", 256, (_n, value, itemPath) => ({ value, itemPath }));
  if (raw.length !== kernel.net.netifs.length)
    r.fail("netifs", `${raw.length} interfaces saved, this kernel has ${kernel.net.netifs.length}`);
  const plans = raw.map((x, i) => planNetif(kernel, i, x.value as CborMap, x.itemPath));
  for (const p of plans) applyNetif(p);
  kernel.net.nextEphemeral = nextEphemeral;
  kernel.net.loopbackDelivered = loopbackDelivered;
  kernel.net.loopbackDropped = loopbackDropped;
}

// ── checked reads ────────────────────────────────────────────────────────────────────────────

/** Reads fields of an untrusted map; every failure is one NetImageError naming the field. */
class Reader {
  constructor(
    readonly m: Record<string, unknown>,
    readonly path: string,
  ) {
    if (typeof m !== "object" || m === null || Array.isArray(m) || m instanceof Uint8Array)
      throw new NetImageError(path, "expected a map");
  }

  fail(key: string, problem: string): never {
    throw new NetImageError(`${this.path}.${key}`, problem);
  }

  int(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.m[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
      this.fail(key, `expected an integer in ${min}..${max}`);
    return v;
  }

  optionalInt(key: string): number | undefined {
    return this.m[key] === undefined ? undefined : this.int(key);
  }

  bool(key: string): boolean {
    const v = this.m[key];
    if (typeof v !== "boolean") this.fail(key, "expected a boolean");
    return v;
  }

  text(key: string): string {
    const v = this.m[key];
    if (typeof v !== "string" || v.length > 64) this.fail(key, "expected a short text string");
    return v;
  }

  bytes(key: string, length?: number): Uint8Array {
    const v = this.m[key];
    if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length))
      this.fail(key, length === undefined ? "expected bytes" : `expected ${length} bytes`);
    return v;
  }

  ip(key: string): string {
    const v = this.text(key);
    try {
      return normalizeIpv4Address(v);
    } catch {
      return this.fail(key, `${JSON.stringify(v)} is not an IPv4 address`);
    }
  }

  mac(key: string): string {
    const v = this.text(key);
    try {
      return normalizeMac(v);
    } catch {
      return this.fail(key, `${JSON.stringify(v)} is not a MAC address`);
    }
  }

  map<T>(key: string, read: (r: Reader) => T): T {
    return read(new Reader(this.m[key] as Record<string, unknown>, `${this.path}.${key}`));
  }

  list<T>(key: string, max: number, read: (r: Reader, value: CborValue, path: string) => T): T[] {
    const v = this.m[key];
    if (!Array.isArray(v)) this.fail(key, "expected an array");
    if (v.length > max) this.fail(key, `more than ${max} items`);
    return v.map((item: CborValue, i: number) => {
      const p = `${this.path}.${key}[${i}]`;
      return read(new Reader(item as Record<string, unknown>, p), item, p);
    });
  }
}
