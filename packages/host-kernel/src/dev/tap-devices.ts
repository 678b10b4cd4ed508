/**
 * The kernel's tap units and their /dev nodes: `/dev/tapN` opens unit N (exclusively: EBUSY
 * while open), `/dev/tap` clones, opening the lowest unit not open (ENXIO when all are).
 * Units are created on first use and persist, as BSD tap interfaces do.
 */

import type { DeviceHost, DeviceNode, FileOps } from "../fs/file-types.ts";
import { EBUSY, ENXIO } from "../syscall/errno.ts";
import type { BridgeRegistry } from "./bridge-registry.ts";
import { NetSnapshotError } from "./net-errors.ts";
import { TapDevice, type TapSnapshot } from "./tap.ts";
import { TapFile } from "./tap-file.ts";

export interface TapDevicesOptions {
  /** Units 0 .. maxUnits-1 exist. Default 64. */
  readonly maxUnits?: number;
}

export class TapDevices {
  readonly bridges: BridgeRegistry;
  readonly maxUnits: number;
  readonly #units = new Map<number, TapDevice>();

  constructor(bridges: BridgeRegistry, options: TapDevicesOptions = {}) {
    this.bridges = bridges;
    this.maxUnits = options.maxUnits ?? 64;
  }

  /** Unit `n` (created on first use), or undefined when out of range. */
  unit(n: number): TapDevice | undefined {
    if (!Number.isInteger(n) || n < 0 || n >= this.maxUnits) return undefined;
    let device = this.#units.get(n);
    if (device === undefined) {
      device = new TapDevice(n, this.bridges);
      this.#units.set(n, device);
    }
    return device;
  }

  /** Units created so far, by unit number. */
  units(): TapDevice[] {
    return [...this.#units.values()].sort((a, b) => a.unit - b.unit);
  }

  /** Open unit `n` for `host`: its file ops, or -errno. */
  open(n: number, host: DeviceHost): FileOps | number {
    const device = this.unit(n);
    if (device === undefined) return -ENXIO;
    if (!device.open(host)) return -EBUSY;
    return new TapFile(device, host);
  }

  /** Open the lowest unit not open. */
  openClone(host: DeviceHost): FileOps | number {
    for (let n = 0; n < this.maxUnits; n++) {
      if (this.unit(n)?.isOpen === false) return this.open(n, host);
    }
    return -ENXIO;
  }

  /** The node for /dev/tapN. */
  node(n: number): DeviceNode {
    return { kind: "tap", open: (_flags, host) => this.open(n, host) };
  }

  /** The node for /dev/tap (cloning). */
  cloneNode(): DeviceNode {
    return { kind: "tap", open: (_flags, host) => this.openClone(host) };
  }

  /** `[path, node]` for /dev/tap and /dev/tap0 .. /dev/tap{count-1}, for the VFS to mount. */
  devNodes(count = 4): [string, DeviceNode][] {
    const nodes: [string, DeviceNode][] = [["/dev/tap", this.cloneNode()]];
    for (let n = 0; n < Math.min(count, this.maxUnits); n++) nodes.push([`/dev/tap${n}`, this.node(n)]);
    return nodes;
  }

  /**
   * Reopen a saved tap (thaw, or a vkernel reattaching after its checkpoint): the saved unit if it
   * is free, else the lowest free one (the unit may differ, as on another host), then restore its
   * config and queued frames. Throws NetSnapshotError when no unit is free or the snapshot is bad.
   */
  reopen(s: TapSnapshot, host: DeviceHost): TapFile {
    const saved = /^tap(\d+)$/.exec(s.name);
    const preferred = saved === null ? undefined : this.unit(Number(saved[1]));
    const ops = preferred?.isOpen === false ? this.open(preferred.unit, host) : this.openClone(host);
    if (typeof ops === "number" || !(ops instanceof TapFile)) {
      throw new NetSnapshotError(`tap ${s.name}`, "no free tap unit to reopen it on");
    }
    try {
      ops.restore(s);
    } catch (error) {
      ops.device.close();
      throw error;
    }
    return ops;
  }
}
