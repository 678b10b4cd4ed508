/**
 * Between a tap's snapshot and the image model's tap descriptor (`TapDescriptorImage` in
 * @vkc/checkpoint, FORMAT.md §4.5), for the freeze and thaw code. The image keeps the name,
 * IPv4 address and prefix length, MTU, MAC and queued frames; a snapshot also has the up flag, the
 * bridge, the queue bound, the baudrate and counters, which the image format does not carry yet:
 * `tapSnapshotFromImage` takes them from `extra` (defaults: down, unplugged, bound 256).
 */

import type { TapDescriptorImage } from "@vkc/checkpoint";
import { NetSnapshotError } from "./net-errors.ts";
import { formatMac, parseMac } from "./net-frame.ts";
import { formatIpv4Address, parseIpv4Address } from "./net-ipv4.ts";
import { TAP_DEFAULT_BAUDRATE, TAP_DEFAULT_QUEUE, type TapConfig, type TapSnapshot } from "./tap.ts";

function prefixLength(mask: string): number {
  let m = parseIpv4Address(mask);
  let n = 0;
  while (m & 0x80000000) {
    n++;
    m = (m << 1) >>> 0;
  }
  return n;
}

function maskOf(prefix: number): string {
  return formatIpv4Address(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

/** The image descriptor for descriptor `fd` of an open tap. */
export function tapDescriptorImage(fd: number, cloexec: boolean, s: TapSnapshot): TapDescriptorImage {
  const address = new Uint8Array(4);
  new DataView(address.buffer).setUint32(0, parseIpv4Address(s.config.inetAddr));
  return {
    fd,
    cloexec,
    kind: "tap",
    name: s.name,
    address,
    prefixLength: prefixLength(s.config.inetMask),
    mtu: s.config.mtu,
    mac: parseMac(s.config.mac),
    queued: s.queue.map((frame) => frame.slice()),
  };
}

/** A snapshot to `TapDevices.reopen` from an image descriptor, completed with what the image lacks. */
export function tapSnapshotFromImage(
  image: TapDescriptorImage,
  extra: Partial<Pick<TapConfig, "up" | "bridge" | "maxQueue" | "baudrate">> = {},
): TapSnapshot {
  if (
    image.address.length !== 4 ||
    image.mac.length !== 6 ||
    image.prefixLength > 32 ||
    image.prefixLength < 0
  ) {
    throw new NetSnapshotError(`tap ${image.name}`, "bad address, prefix length or MAC in the image");
  }
  const address = new DataView(image.address.buffer, image.address.byteOffset, 4).getUint32(0);
  const maxQueue = extra.maxQueue ?? Math.max(TAP_DEFAULT_QUEUE, image.queued.length);
  return {
    name: image.name,
    config: {
      mtu: image.mtu,
      baudrate: extra.baudrate ?? TAP_DEFAULT_BAUDRATE,
      mac: formatMac(image.mac),
      inetAddr: formatIpv4Address(address),
      inetMask: maskOf(image.prefixLength),
      up: extra.up ?? false,
      bridge: extra.bridge ?? "",
      maxQueue,
    },
    queue: image.queued.map((frame) => frame.slice()),
    stats: { rxFrames: 0, rxBytes: 0, rxDropped: 0, txFrames: 0, txBytes: 0, txDropped: 0 },
  };
}
