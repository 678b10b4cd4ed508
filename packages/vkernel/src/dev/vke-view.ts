import type { VkernelTap } from "../vkernel-config.ts";
import { vkeInterfaces } from "./vke-config.ts";
import {
  VH_DRAINED,
  VH_FD,
  VH_RX_HEAD,
  VH_RX_TAIL,
  VH_TX_DROPPED,
  VH_TX_HEAD,
  VH_TX_TAIL,
  VKE_BASE,
  vkeHeader,
} from "./vke-layout.ts";

/** One vke as an image holds it (`vkc images show`): its config and what its rings held. */
export interface VkeView {
  name: string;
  device: string;
  mac: string;
  /** "10.0.0.2/24", or "" without an address. */
  address: string;
  bridge: string;
  /** Frames in the rx ring (not yet handed to the inner kernel) and in the tx ring (not yet sent). */
  rxQueued: number;
  txQueued: number;
  /** Frames the inner kernel sent while the tx ring was full; frames checkpoint step 5 drained. */
  txDropped: number;
  drained: number;
  /** True when the tap was open at the freeze (the protocol closes it: false in a good image). */
  tapOpen: boolean;
}

/**
 * The vke part of a vkernel image, from its config's taps and the vke region's pages (`page(i)`:
 * page `i` of the region at VKE_BASE, or null when the image has none, i.e. all zero).
 */
export async function readVkeView(
  taps: readonly VkernelTap[] | undefined,
  page: (index: number) => Promise<Uint8Array | null>,
): Promise<VkeView[]> {
  const out: VkeView[] = [];
  for (const [k, iface] of vkeInterfaces(taps).entries()) {
    const at = vkeHeader(k) - VKE_BASE;
    const p = await page(at / 4096);
    const word = (o: number): number =>
      p === null ? 0 : new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(o, true);
    out.push({
      name: iface.name,
      device: iface.device,
      mac: iface.mac,
      address: iface.address === "0.0.0.0" ? "" : `${iface.address}/${iface.prefixLength}`,
      bridge: iface.bridge,
      rxQueued: (word(VH_RX_TAIL) - word(VH_RX_HEAD)) >>> 0,
      txQueued: (word(VH_TX_TAIL) - word(VH_TX_HEAD)) >>> 0,
      txDropped: word(VH_TX_DROPPED),
      drained: word(VH_DRAINED),
      tapOpen: p !== null && word(VH_FD) !== 0xffff_ffff,
    });
  }
  return out;
}
