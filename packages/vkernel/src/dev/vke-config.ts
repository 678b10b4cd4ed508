import { VkernelConfigError } from "../errors.ts";
import type { VkernelTap } from "../vkernel-config.ts";
import { VKE_MAX, VKE_MTU } from "./vke-layout.ts";

/** The bridge a vke's tap is plugged into when the config names none (what `vkc boot` creates). */
export const VKE_DEFAULT_BRIDGE = "br0";

/** One vke as the vkernel sets it up: derived from a `VkernelTap`, deterministically. */
export interface VkeInterface {
  /** Inner interface name: vke0, vke1, … */
  readonly name: string;
  /** Host tap node, "/dev/tapN". */
  readonly device: string;
  /** Host tap unit N. */
  readonly unit: number;
  /** 02:76:6b:65:NN:KK ("vke", tap unit, vke index): the inner interface's and the tap's MAC. */
  readonly mac: string;
  /** Dotted quad ("0.0.0.0" without an address) and prefix length. */
  readonly address: string;
  readonly prefixLength: number;
  readonly mtu: number;
  /** Host bridge to plug the tap into. */
  readonly bridge: string;
}

const DEVICE = /^\/dev\/tap([0-9]{1,2})$/;
const ADDRESS = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:\/([0-9]{1,2}))?$/;
const BRIDGE = /^[A-Za-z0-9_.-]{1,15}$/;

const hex = (n: number): string => n.toString(16).padStart(2, "0");

/** The vke interfaces of a config's taps; throws VkernelConfigError("taps", …) for a bad entry. */
export function vkeInterfaces(taps: readonly VkernelTap[] | undefined): VkeInterface[] {
  const list = taps ?? [];
  if (list.length > VKE_MAX) throw new VkernelConfigError("taps", `${list.length} taps, at most ${VKE_MAX}`);
  const units = new Set<number>();
  return list.map((t, k) => {
    const what = `taps[${k}]`;
    const d = DEVICE.exec(typeof t.device === "string" ? t.device : "");
    const unit = Number(d?.[1]);
    if (d === null || unit > 63)
      throw new VkernelConfigError(
        "taps",
        `${what}.device ${JSON.stringify(t.device)} is not /dev/tap0../dev/tap63`,
      );
    if (units.has(unit)) throw new VkernelConfigError("taps", `${what}.device ${t.device} is given twice`);
    units.add(unit);
    let address = "0.0.0.0";
    let prefixLength = 0;
    if (t.address !== undefined) {
      const m = ADDRESS.exec(t.address);
      const octets = m === null ? [] : m.slice(1, 5).map(Number);
      prefixLength = m?.[5] === undefined ? 24 : Number(m[5]);
      if (m === null || octets.some((o) => o > 255) || prefixLength < 1 || prefixLength > 30)
        throw new VkernelConfigError(
          "taps",
          `${what}.address ${JSON.stringify(t.address)} is not an IPv4 address with a /1../30 prefix`,
        );
      address = octets.join(".");
    }
    const bridge = t.bridge ?? VKE_DEFAULT_BRIDGE;
    if (!BRIDGE.test(bridge))
      throw new VkernelConfigError("taps", `${what}.bridge ${JSON.stringify(bridge)} is not a bridge name`);
    return {
      name: `vke${k}`,
      device: t.device,
      unit,
      mac: ["02", "76", "6b", "65", hex(unit), hex(k)].join(":"),
      address,
      prefixLength,
      mtu: VKE_MTU,
      bridge,
    };
  });
}
