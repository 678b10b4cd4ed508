/**
 * Attach the interfaces a kernel is configured with (KernelOptions.network.interfaces, then
 * KernelOptions.netifs), in that order: an interface's index is its position in that list.
 */

import type { BridgeRegistry } from "../dev/bridge-registry.ts";
import { KernelOptionError } from "../errors.ts";
import type { DeviceHost } from "../fs/file-types.ts";
import type { NetStack } from "./net-stack.ts";
import type { Netif } from "./netif.ts";
import { BridgeNetif, type BridgeNetifOptions } from "./netif-bridge.ts";

export function attachNetifs(
  stack: NetStack,
  host: DeviceHost,
  bridges: BridgeRegistry | null,
  onBridge: readonly BridgeNetifOptions[],
  drivers: readonly Netif[],
): void {
  for (const options of onBridge) {
    const bridge = bridges?.get(options.bridge);
    if (bridge === undefined) {
      throw new KernelOptionError(
        `network.interfaces ${JSON.stringify(options.name)}`,
        `no bridge ${JSON.stringify(options.bridge)}`,
      );
    }
    const netif = new BridgeNetif(options, stack.netifs.length, host);
    const state = stack.attach(netif);
    try {
      netif.attach(bridge, (frame) => stack.receive(state.index, frame));
    } catch (error) {
      stack.netifs.pop();
      throw new KernelOptionError(
        `network.interfaces ${JSON.stringify(options.name)}`,
        error instanceof Error ? error.message : String(error),
      );
    }
  }
  for (const driver of drivers) stack.attach(driver);
}

/**
 * The last process exited: deliver the frames still in flight on the bridges (a reply sent just
 * before exit reaches its peer, a real client through an uplink), polling at their due times
 * (at most `rounds` times, so two echoing ports cannot loop forever). Virtual time does not move.
 */
export function flushBridges(bridges: BridgeRegistry | null, now: number, rounds = 64): void {
  if (bridges === null) return;
  for (let i = 0; i < rounds; i++) {
    let due: number | undefined;
    for (const name of bridges.names()) {
      const head = bridges.get(name)?.queued()[0];
      if (head !== undefined && (due === undefined || head.due > due)) due = head.due;
    }
    if (due === undefined) return;
    bridges.poll(Math.max(now, due));
  }
}
