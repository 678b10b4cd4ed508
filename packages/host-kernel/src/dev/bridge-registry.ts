/**
 * The kernel's bridges, by name (what a tap's "attach to bridge" ioctl looks up). The kernel's
 * run loop drives them all: `poll(now)` between slices, `nextEventTime()` to know how far virtual
 * time may jump when every LWP sleeps, and `waitForLiveInput()` when only a real socket can wake
 * anything up.
 */

import { Bridge, type BridgeOptions, type BridgeSnapshot } from "./bridge.ts";
import { BridgeError } from "./net-errors.ts";

export class BridgeRegistry {
  readonly #bridges = new Map<string, Bridge>();

  /** Make a bridge; throws BridgeError if the name is taken or invalid. */
  create(name: string, options?: BridgeOptions): Bridge {
    if (this.#bridges.has(name)) throw new BridgeError(name, "already exists");
    const bridge = new Bridge(name, options);
    this.#bridges.set(name, bridge);
    return bridge;
  }

  /** Add an existing bridge (one rebuilt with `Bridge.fromSnapshot`). */
  add(bridge: Bridge): Bridge {
    if (this.#bridges.has(bridge.name)) throw new BridgeError(bridge.name, "already exists");
    this.#bridges.set(bridge.name, bridge);
    return bridge;
  }

  get(name: string): Bridge | undefined {
    return this.#bridges.get(name);
  }

  /** Remove a bridge; its ports stay attached to the removed object and stop being polled. */
  delete(name: string): boolean {
    return this.#bridges.delete(name);
  }

  names(): string[] {
    return [...this.#bridges.keys()];
  }

  /** Poll every bridge (in creation order) up to `now`; returns the deliveries made. */
  poll(now: number): number {
    let delivered = 0;
    for (const bridge of this.#bridges.values()) delivered += bridge.poll(now);
    return delivered;
  }

  /** The earliest virtual time at which any bridge has work. */
  nextEventTime(): number | undefined {
    let next: number | undefined;
    for (const bridge of this.#bridges.values()) {
      const t = bridge.nextEventTime();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** True when a real socket is plugged into some bridge (the run is then not deterministic). */
  hasLivePorts(): boolean {
    for (const bridge of this.#bridges.values()) if (bridge.livePorts().length > 0) return true;
    return false;
  }

  /** Resolves true when some live port has input (or closed), at once false when there is none. */
  async waitForLiveInput(): Promise<boolean> {
    const waits: Promise<void>[] = [];
    for (const bridge of this.#bridges.values()) {
      for (const port of bridge.livePorts()) if (port.whenInput !== undefined) waits.push(port.whenInput());
    }
    if (waits.length === 0) return false;
    await Promise.race(waits);
    return true;
  }

  snapshot(): BridgeSnapshot[] {
    return [...this.#bridges.values()].map((bridge) => bridge.snapshot());
  }

  /** A registry holding the saved bridges, with no ports plugged in. */
  static fromSnapshot(saved: readonly BridgeSnapshot[]): BridgeRegistry {
    const registry = new BridgeRegistry();
    for (const s of saved) registry.add(Bridge.fromSnapshot(s));
    return registry;
  }
}
