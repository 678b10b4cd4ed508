import type { Netif, VmSpace } from "@vkc/host-kernel";
import type { VkernelConfig } from "../vkernel-config.ts";
import { type VkeInterface, vkeInterfaces } from "./vke-config.ts";
import { VH_TX_DROPPED, VKE_FRAME_MAX, vkeHeader } from "./vke-layout.ts";
import { VkeRing } from "./vke-ring.ts";

/**
 * The inner kernel's driver for vke `k` (host-kernel `Netif`): transmit appends the frame to the
 * tx ring in vmspace0 (the vke-tx cothread writes it to the host tap; a vCPU wakes it). A full
 * ring drops the frame and counts it, as a NIC with a full descriptor ring does: transmit is
 * called synchronously from inside the inner kernel and cannot wait.
 */
export class VkeNetif implements Netif {
  readonly name: string;
  readonly mac: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly mtu: number;
  readonly #tx: VkeRing;

  constructor(
    readonly iface: VkeInterface,
    readonly k: number,
    readonly vm: VmSpace,
  ) {
    this.name = iface.name;
    this.mac = iface.mac;
    this.address = iface.address;
    this.prefixLength = iface.prefixLength;
    this.mtu = iface.mtu;
    this.#tx = new VkeRing(vm, k, "tx");
  }

  transmit(frame: Uint8Array): void {
    if (frame.length <= VKE_FRAME_MAX && this.#tx.push(frame)) return;
    const at = vkeHeader(this.k) + VH_TX_DROPPED;
    this.vm.writeU32(at, ((this.vm.readU32(at) ?? 0) + 1) >>> 0);
  }
}

/** The inner kernel's network interfaces for a config (`KernelOptions.netifs`), vke0 first. */
export function vkeNetifs(config: VkernelConfig, vm: VmSpace): VkeNetif[] {
  return vkeInterfaces(config.taps).map((iface, k) => new VkeNetif(iface, k, vm));
}
