/**
 * A learning Ethernet switch (DragonFly's if_bridge, reduced to what a simulation needs).
 *
 * Ports (taps, scripted peers, UDP uplinks) hand frames in with `input`; the bridge validates
 * them, learns the source MAC on the ingress port, decides the egress ports (the learned port
 * for a known unicast destination, every other port for broadcast, multicast and unknown
 * destinations) and queues one delivery per egress port, due `latency` virtual nanoseconds
 * later. Nothing moves until the kernel calls `poll(now)`: that lets ports emit what they have
 * due (`tick`) and then delivers every queued frame whose time has come, in (due, sequence)
 * order, each at its due time. The bridge never reads a wall clock, so the same inputs at the same virtual times give
 * the same deliveries. Its forwarding table, queue and counters are plain data (`snapshot`).
 */

import { BridgeError, NetSnapshotError } from "./net-errors.ts";
import {
  ETHER_MAX_LEN,
  type FrameProblem,
  frameDestination,
  frameProblem,
  frameSource,
  isGroupMac,
} from "./net-frame.ts";

/** Something plugged into a bridge. */
export interface BridgePort {
  /** Unique on its bridge: "tap0", "peer0", "uplink0". */
  readonly name: string;
  /** Largest frame this port takes (e.g. a tap's MTU + 14); longer deliveries are dropped. */
  readonly maxFrameLength?: number | undefined;
  /**
   * A frame reaches this port. `now` is its due time (input time + latency), which may be
   * earlier than the poll that delivers it, so replies do not depend on how often the kernel
   * polls. The frame must not be modified.
   */
  receive(frame: Uint8Array, now: number): void;
  /** Emit (through the port's link) whatever this port has due at or before `now`. */
  tick?(now: number): void;
  /** The earliest virtual time at which `tick` has something to emit, if any. */
  nextEventTime?(): number | undefined;
  /**
   * Live ports only (real sockets): resolves when `tick` has something to emit or the port
   * closed. The kernel awaits it when nothing else can make progress.
   */
  whenInput?(): Promise<void>;
}

/** A port's handle on the bridge it is plugged into. */
export interface BridgeLink {
  readonly bridge: Bridge;
  /** Hand a frame to the bridge at virtual time `now`; false if it was dropped at ingress. */
  send(frame: Uint8Array, now: number): boolean;
  /** Unplug the port (its learned addresses are forgotten). */
  detach(): void;
}

export interface BridgeOptions {
  /** Virtual nanoseconds between a frame's input and its delivery. Default 0. */
  readonly latency?: number;
  /** Most frames in transit; later ones are dropped (drop-tail). Default 1024. */
  readonly maxQueue?: number;
  /** Most learned addresses; the least recently seen is evicted. Default 256. */
  readonly maxAddresses?: number;
  /** Virtual nanoseconds after which an unrefreshed address is forgotten; 0 = never. Default 0. */
  readonly ageingTime?: number;
  /** Most deliveries one `poll` makes, so two echoing ports cannot livelock it. Default 10000. */
  readonly maxDeliveriesPerPoll?: number;
}

export interface BridgeStats {
  /** Frames accepted at ingress. */
  received: number;
  /** Frames sent to one learned port. */
  forwarded: number;
  /** Frames sent to every other port. */
  flooded: number;
  /** Frames whose destination was learned on their own ingress port (not sent anywhere). */
  filtered: number;
  /** Deliveries made to ports. */
  delivered: number;
  dropRunt: number;
  dropGiant: number;
  dropNotEthernetII: number;
  dropMulticastSource: number;
  /** Deliveries refused because the queue was full. */
  dropQueueFull: number;
  /** Deliveries longer than the egress port's maxFrameLength. */
  dropTooBigForPort: number;
  /** Deliveries whose egress port was unplugged before they were due. */
  dropNoPort: number;
}

export interface BridgeAddress {
  readonly mac: string;
  readonly port: string;
  /** Virtual time the address was last seen as a source. */
  readonly seen: number;
}

export interface BridgeDelivery {
  readonly due: number;
  readonly seq: number;
  readonly port: string;
  readonly frame: Uint8Array;
}

/** Everything a bridge knows, as plain data. Ports are not included: they re-attach by name. */
export interface BridgeSnapshot {
  readonly name: string;
  readonly latency: number;
  readonly maxQueue: number;
  readonly maxAddresses: number;
  readonly ageingTime: number;
  readonly maxDeliveriesPerPoll: number;
  readonly seq: number;
  readonly addresses: readonly BridgeAddress[];
  readonly queue: readonly BridgeDelivery[];
  readonly stats: BridgeStats;
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** True when `name` can name a bridge or port (1–15 of A-Z a-z 0-9 _ . -, like IFNAMSIZ). */
export function isValidNetName(name: string): boolean {
  return NAME.test(name);
}

function zeroStats(): BridgeStats {
  return {
    received: 0,
    forwarded: 0,
    flooded: 0,
    filtered: 0,
    delivered: 0,
    dropRunt: 0,
    dropGiant: 0,
    dropNotEthernetII: 0,
    dropMulticastSource: 0,
    dropQueueFull: 0,
    dropTooBigForPort: 0,
    dropNoPort: 0,
  };
}

const PROBLEM_COUNTER: Record<FrameProblem, keyof BridgeStats> = {
  runt: "dropRunt",
  giant: "dropGiant",
  "not-ethernet-ii": "dropNotEthernetII",
  "multicast-source": "dropMulticastSource",
};

function checkCount(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new BridgeError(what, `${JSON.stringify(value)} must be an integer >= ${min}`);
  }
  return value;
}

export class Bridge {
  readonly name: string;
  readonly latency: number;
  readonly maxQueue: number;
  readonly maxAddresses: number;
  readonly ageingTime: number;
  readonly maxDeliveriesPerPoll: number;
  readonly stats: BridgeStats = zeroStats();

  readonly #ports = new Map<string, BridgePort>();
  /** mac → entry; Map order is least recently seen first. */
  readonly #addresses = new Map<string, BridgeAddress>();
  /** Pending deliveries sorted by (due, seq). */
  #queue: BridgeDelivery[] = [];
  #seq = 0;

  constructor(name: string, options: BridgeOptions = {}) {
    if (!isValidNetName(name)) throw new BridgeError(JSON.stringify(name), "invalid bridge name");
    this.name = name;
    this.latency = checkCount(`${name} latency`, options.latency ?? 0, 0);
    this.maxQueue = checkCount(`${name} maxQueue`, options.maxQueue ?? 1024, 1);
    this.maxAddresses = checkCount(`${name} maxAddresses`, options.maxAddresses ?? 256, 1);
    this.ageingTime = checkCount(`${name} ageingTime`, options.ageingTime ?? 0, 0);
    this.maxDeliveriesPerPoll = checkCount(
      `${name} maxDeliveriesPerPoll`,
      options.maxDeliveriesPerPoll ?? 10_000,
      1,
    );
  }

  /** Plug `port` in. Throws BridgeError if a port of that name is already plugged in. */
  attach(port: BridgePort): BridgeLink {
    if (!isValidNetName(port.name))
      throw new BridgeError(this.name, `invalid port name ${JSON.stringify(port.name)}`);
    if (this.#ports.has(port.name)) throw new BridgeError(this.name, `port ${port.name} is already attached`);
    this.#ports.set(port.name, port);
    let attached = true;
    return {
      bridge: this,
      send: (frame, now) => attached && this.input(port.name, frame, now),
      detach: () => {
        if (!attached) return;
        attached = false;
        this.detach(port.name);
      },
    };
  }

  /** Unplug a port by name and forget the addresses learned on it. Frames due to it are dropped when due. */
  detach(portName: string): void {
    if (!this.#ports.delete(portName)) return;
    for (const [mac, entry] of this.#addresses) if (entry.port === portName) this.#addresses.delete(mac);
  }

  /** Names of the plugged-in ports, in attach order. */
  portNames(): string[] {
    return [...this.#ports.keys()];
  }

  hasPort(name: string): boolean {
    return this.#ports.has(name);
  }

  /**
   * A frame enters from port `from` at virtual time `now`. The bridge copies it. Returns false
   * when it was dropped (invalid frame, unknown port, or no room for any of its deliveries).
   */
  input(from: string, frame: Uint8Array, now: number): boolean {
    if (!this.#ports.has(from)) {
      this.stats.dropNoPort++;
      return false;
    }
    const problem = frameProblem(frame, ETHER_MAX_LEN);
    if (problem !== undefined) {
      this.stats[PROBLEM_COUNTER[problem]]++;
      return false;
    }
    this.stats.received++;
    this.#learn(frameSource(frame), from, now);

    const dst = frameDestination(frame);
    let egress: string[];
    const known = isGroupMac(dst) ? undefined : this.#lookup(dst, now);
    if (known === undefined) {
      egress = this.portNames().filter((name) => name !== from);
      this.stats.flooded++;
    } else if (known === from) {
      this.stats.filtered++;
      return true;
    } else {
      egress = [known];
      this.stats.forwarded++;
    }

    const copy = frame.slice();
    const due = now + this.latency;
    let queued = 0;
    for (const port of egress) {
      if (this.#queue.length >= this.maxQueue) {
        this.stats.dropQueueFull++;
        continue;
      }
      this.#enqueue({ due, seq: this.#seq++, port, frame: copy });
      queued++;
    }
    return queued > 0 || egress.length === 0;
  }

  /**
   * Run the bridge up to virtual time `now`: ports emit what they have due, then every delivery
   * due at or before `now` is made (up to maxDeliveriesPerPoll). Returns the deliveries made.
   */
  poll(now: number): number {
    for (const port of [...this.#ports.values()]) port.tick?.(now);
    let delivered = 0;
    while (delivered < this.maxDeliveriesPerPoll) {
      const head = this.#queue[0];
      if (head === undefined || head.due > now) break;
      this.#queue.shift();
      const port = this.#ports.get(head.port);
      if (port === undefined) {
        this.stats.dropNoPort++;
        continue;
      }
      if (head.frame.length > (port.maxFrameLength ?? ETHER_MAX_LEN)) {
        this.stats.dropTooBigForPort++;
        continue;
      }
      this.stats.delivered++;
      delivered++;
      port.receive(head.frame, head.due);
    }
    return delivered;
  }

  /** The earliest virtual time at which `poll` has work (queued delivery or a port's event). */
  nextEventTime(): number | undefined {
    let next = this.#queue[0]?.due;
    for (const port of this.#ports.values()) {
      const t = port.nextEventTime?.();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** The live ports (real sockets) plugged in. */
  livePorts(): BridgePort[] {
    return [...this.#ports.values()].filter((port) => port.whenInput !== undefined);
  }

  /** The port a unicast MAC was learned on, if it is known and has not aged out by `now`. */
  lookup(mac: string, now: number): string | undefined {
    return this.#lookup(mac.toLowerCase(), now);
  }

  /** The forwarding table, least recently seen first. */
  addresses(): BridgeAddress[] {
    return [...this.#addresses.values()];
  }

  /** Frames in transit, in delivery order. */
  queued(): BridgeDelivery[] {
    return [...this.#queue];
  }

  snapshot(): BridgeSnapshot {
    return {
      name: this.name,
      latency: this.latency,
      maxQueue: this.maxQueue,
      maxAddresses: this.maxAddresses,
      ageingTime: this.ageingTime,
      maxDeliveriesPerPoll: this.maxDeliveriesPerPoll,
      seq: this.#seq,
      addresses: this.addresses(),
      queue: this.#queue.map((d) => ({ ...d, frame: d.frame.slice() })),
      stats: { ...this.stats },
    };
  }

  /** A bridge with the saved table, queue and counters, and no ports (they re-attach by name). */
  static fromSnapshot(s: BridgeSnapshot): Bridge {
    const bridge = new Bridge(s.name, s);
    if (!Number.isSafeInteger(s.seq) || s.seq < 0)
      throw new NetSnapshotError(`bridge ${s.name}`, "bad sequence number");
    bridge.#seq = s.seq;
    for (const a of s.addresses) bridge.#addresses.set(a.mac, { mac: a.mac, port: a.port, seen: a.seen });
    for (const d of s.queue) {
      if (!(d.frame instanceof Uint8Array) || d.seq >= s.seq) {
        throw new NetSnapshotError(`bridge ${s.name}`, `bad queued delivery ${d.seq}`);
      }
      bridge.#enqueue({ due: d.due, seq: d.seq, port: d.port, frame: d.frame.slice() });
    }
    Object.assign(bridge.stats, s.stats);
    return bridge;
  }

  #learn(mac: string, port: string, now: number): void {
    this.#addresses.delete(mac);
    this.#addresses.set(mac, { mac, port, seen: now });
    if (this.#addresses.size > this.maxAddresses) {
      const oldest = this.#addresses.keys().next().value;
      if (oldest !== undefined) this.#addresses.delete(oldest);
    }
  }

  #lookup(mac: string, now: number): string | undefined {
    const entry = this.#addresses.get(mac);
    if (entry === undefined) return undefined;
    if (this.ageingTime > 0 && now - entry.seen > this.ageingTime) {
      this.#addresses.delete(mac);
      return undefined;
    }
    return entry.port;
  }

  /** Insert keeping (due, seq) order; deliveries almost always arrive in order, so scan from the end. */
  #enqueue(delivery: BridgeDelivery): void {
    let i = this.#queue.length;
    while (i > 0) {
      const prev = this.#queue[i - 1] as BridgeDelivery;
      if (prev.due < delivery.due || (prev.due === delivery.due && prev.seq < delivery.seq)) break;
      i--;
    }
    this.#queue.splice(i, 0, delivery);
  }
}
