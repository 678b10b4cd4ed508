/**
 * A tap interface (DragonFly's if_tap): an Ethernet interface whose "wire" is a character
 * device. Frames that reach the interface from its bridge are queued (rx) for read(2) on
 * /dev/tapN; each write(2) sends one frame into the bridge. This file holds the interface state
 * (the softc): its configuration, the bounded rx queue and counters, and the plain-data
 * snapshot a checkpoint keeps. The file-description side is tap-file.ts; /dev nodes and units
 * are tap-devices.ts.
 */

import type { DeviceHost, WaitChannel } from "../fs/file-types.ts";
import { EBUSY, EINVAL, EIO, ENOENT } from "../syscall/errno.ts";
import type { BridgeLink, BridgePort } from "./bridge.ts";
import { isValidNetName } from "./bridge.ts";
import type { BridgeRegistry } from "./bridge-registry.ts";
import { NetSnapshotError } from "./net-errors.ts";
import { ETHER_HDR_LEN, ETHERMTU, formatMac, frameProblem, isGroupMac, normalizeMac } from "./net-frame.ts";
import { normalizeIpv4Address, parseIpv4Address } from "./net-ipv4.ts";

/** Smallest MTU a tap accepts (IPv4's minimum). */
export const TAP_MIN_MTU = 68;
export const TAP_DEFAULT_QUEUE = 256;
export const TAP_MAX_QUEUE = 4096;
/** tapinfo.baudrate reported by default (10 Mbit/s, as DragonFly's tap). */
export const TAP_DEFAULT_BAUDRATE = 10_000_000;

export interface TapConfig {
  mtu: number;
  baudrate: number;
  /** Lower-case "aa:bb:cc:dd:ee:ff". */
  mac: string;
  /** Dotted quad, "0.0.0.0" when unset. Kept for the interface's owner; the tap does not route. */
  inetAddr: string;
  inetMask: string;
  up: boolean;
  /** Name of the bridge plugged into, "" when none. */
  bridge: string;
  /** Bound of the rx queue (drop-tail). */
  maxQueue: number;
}

/** Counters, in the order TAPGSTATS returns them (after them come queued and maxQueue). */
export interface TapStats {
  /** Frames queued for read. */
  rxFrames: number;
  rxBytes: number;
  /** Frames that arrived while the queue was full or the interface down. */
  rxDropped: number;
  /** Frames written and handed to a bridge. */
  txFrames: number;
  txBytes: number;
  /** Frames written while unplugged, or refused by the bridge. */
  txDropped: number;
}

/** Everything about a tap a checkpoint needs: config and the frames queued for read. */
export interface TapSnapshot {
  readonly name: string;
  readonly config: TapConfig;
  readonly queue: readonly Uint8Array[];
  readonly stats: TapStats;
}

/** The MAC a tap unit starts with: 02:74:61:70:uu:uu ("tap" in the middle, locally administered). */
export function defaultTapMac(unit: number): string {
  return formatMac(Uint8Array.of(0x02, 0x74, 0x61, 0x70, (unit >>> 8) & 0xff, unit & 0xff));
}

function defaultConfig(unit: number): TapConfig {
  return {
    mtu: ETHERMTU,
    baudrate: TAP_DEFAULT_BAUDRATE,
    mac: defaultTapMac(unit),
    inetAddr: "0.0.0.0",
    inetMask: "0.0.0.0",
    up: false,
    bridge: "",
    maxQueue: TAP_DEFAULT_QUEUE,
  };
}

function zeroStats(): TapStats {
  return { rxFrames: 0, rxBytes: 0, rxDropped: 0, txFrames: 0, txBytes: 0, txDropped: 0 };
}

/** True when `mask` (a u32) is a run of ones followed by zeros. */
function isContiguousMask(mask: number): boolean {
  const inverted = ~mask >>> 0;
  return (inverted & (inverted + 1)) === 0;
}

export class TapDevice implements BridgePort {
  readonly unit: number;
  readonly name: string;
  /** Interface configuration (persists across opens, like a BSD tap interface). */
  readonly config: TapConfig;
  readonly stats: TapStats = zeroStats();
  /** Frames waiting for read(2), oldest first. */
  readonly queue: Uint8Array[] = [];

  #host: DeviceHost | undefined;
  #link: BridgeLink | undefined;
  readonly #bridges: BridgeRegistry;

  constructor(unit: number, bridges: BridgeRegistry) {
    this.unit = unit;
    this.name = `tap${unit}`;
    this.config = defaultConfig(unit);
    this.#bridges = bridges;
  }

  /** The wait channel readers sleep on. */
  get rxChannel(): WaitChannel {
    return `tap:${this.name}:rx`;
  }

  get maxFrameLength(): number {
    return ETHER_HDR_LEN + this.config.mtu;
  }

  get isOpen(): boolean {
    return this.#host !== undefined;
  }

  /** Bind to the kernel that opened /dev/tapN. Exclusive: false when already open. */
  open(host: DeviceHost): boolean {
    if (this.#host !== undefined) return false;
    this.#host = host;
    return true;
  }

  /**
   * The last descriptor was closed: like DragonFly's tapclose, the interface goes down and its
   * queue is flushed; it is also unplugged from its bridge. MTU, MAC and address persist. Every
   * LWP asleep in read on it wakes and retries the read, which finds its descriptor closed and
   * returns -EBADF (the vkernel's rx cothread leaves its read this way at a checkpoint).
   */
  close(): void {
    const host = this.#host;
    this.setBridge("");
    this.config.up = false;
    this.queue.length = 0;
    this.#host = undefined;
    host?.wakeup(this.rxChannel);
  }

  // ── BridgePort ──────────────────────────────────────────────────────────────────────────────

  receive(frame: Uint8Array, _now: number): void {
    if (!this.config.up || this.#host === undefined || this.queue.length >= this.config.maxQueue) {
      this.stats.rxDropped++;
      return;
    }
    this.queue.push(frame);
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.#host.wakeup(this.rxChannel);
  }

  // ── what the file side calls ────────────────────────────────────────────────────────────────

  /** Take the oldest queued frame. */
  dequeue(): Uint8Array | undefined {
    return this.queue.shift();
  }

  /** Send one frame into the bridge at virtual time `now`: its length, or -errno. */
  transmit(frame: Uint8Array, now: number): number {
    if (frame.length === 0) return 0;
    if (!this.config.up) return -EIO;
    if (frameProblem(frame, this.maxFrameLength) !== undefined) return -EINVAL;
    if (this.#link?.send(frame, now) === true) {
      this.stats.txFrames++;
      this.stats.txBytes += frame.length;
    } else {
      this.stats.txDropped++;
    }
    return frame.length;
  }

  setMtu(mtu: number): number {
    if (!Number.isInteger(mtu) || mtu < TAP_MIN_MTU || mtu > ETHERMTU) return -EINVAL;
    this.config.mtu = mtu;
    return 0;
  }

  setMac(mac: string): number {
    const normal = normalizeMac(mac);
    if (isGroupMac(normal)) return -EINVAL;
    this.config.mac = normal;
    return 0;
  }

  setInet(addr: string, mask: string): number {
    const m = parseIpv4Address(mask);
    if (!isContiguousMask(m)) return -EINVAL;
    this.config.inetAddr = normalizeIpv4Address(addr);
    this.config.inetMask = normalizeIpv4Address(mask);
    return 0;
  }

  /** Up or down; going down flushes the rx queue. */
  setUp(up: boolean): void {
    this.config.up = up;
    if (!up) this.queue.length = 0;
  }

  setMaxQueue(max: number): number {
    if (!Number.isInteger(max) || max < 1 || max > TAP_MAX_QUEUE) return -EINVAL;
    this.config.maxQueue = max;
    return 0;
  }

  /** Plug into bridge `name` ("" unplugs): 0, -ENOENT (no such bridge), -EBUSY (port name taken). */
  setBridge(name: string): number {
    if (name === this.config.bridge && (name === "" || this.#link !== undefined)) return 0;
    if (name !== "" && !isValidNetName(name)) return -EINVAL;
    const bridge = name === "" ? undefined : this.#bridges.get(name);
    if (name !== "" && bridge === undefined) return -ENOENT;
    if (bridge?.hasPort(this.name) === true) return -EBUSY;
    this.#link?.detach();
    this.#link = bridge?.attach(this);
    this.config.bridge = name;
    return 0;
  }

  // ── checkpoint ──────────────────────────────────────────────────────────────────────────────

  /** Config, queued frames and counters as plain data (copies). */
  snapshot(): TapSnapshot {
    return {
      name: this.name,
      config: { ...this.config },
      queue: this.queue.map((frame) => frame.slice()),
      stats: { ...this.stats },
    };
  }

  /**
   * Apply a snapshot to this (open) tap, which may be another unit than the one saved: config
   * (re-plugging into the saved bridge by name), queued frames and counters. Throws
   * NetSnapshotError when the snapshot is malformed or its bridge does not exist; the tap is
   * then unchanged.
   */
  restore(s: TapSnapshot): void {
    const what = `tap ${s.name}`;
    const c = s.config;
    if (
      !Array.isArray(s.queue) ||
      s.queue.length > c.maxQueue ||
      !s.queue.every((f) => f instanceof Uint8Array)
    ) {
      throw new NetSnapshotError(what, "bad queue");
    }
    const probe = new TapDevice(this.unit, this.#bridges);
    const ok =
      probe.setMtu(c.mtu) === 0 &&
      probe.setMaxQueue(c.maxQueue) === 0 &&
      attempt(() => probe.setMac(c.mac)) === 0 &&
      attempt(() => probe.setInet(c.inetAddr, c.inetMask)) === 0 &&
      Number.isSafeInteger(c.baudrate);
    if (!ok) throw new NetSnapshotError(what, "bad config");
    if (c.bridge !== "" && this.#bridges.get(c.bridge) === undefined) {
      throw new NetSnapshotError(what, `bridge ${c.bridge} does not exist`);
    }
    if (this.setBridge(c.bridge) !== 0)
      throw new NetSnapshotError(what, `cannot plug into bridge ${c.bridge}`);
    Object.assign(this.config, {
      ...probe.config,
      baudrate: c.baudrate,
      up: c.up === true,
      bridge: c.bridge,
    });
    Object.assign(this.stats, s.stats);
    this.queue.length = 0;
    for (const frame of s.queue) this.queue.push(frame.slice());
    if (this.queue.length > 0) this.#host?.wakeup(this.rxChannel);
  }
}

function attempt(fn: () => number): number {
  try {
    return fn();
  } catch {
    return -EINVAL;
  }
}
