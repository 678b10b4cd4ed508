/**
 * Ethernet II frames as the bridge, taps and peers exchange them: plain byte arrays holding
 * destination MAC (6), source MAC (6), ethertype (2, big-endian) and payload. There is no
 * preamble, no FCS and no padding to 60 bytes: nothing here is a wire.
 *
 * MAC addresses appear in APIs and saved state as lower-case text, "02:00:00:00:00:01".
 */

import { NetAddressError } from "./net-errors.ts";

export const ETHER_ADDR_LEN = 6;
export const ETHER_HDR_LEN = 14;
/** The default (and largest) MTU: IPv4 payload bytes a frame may carry. */
export const ETHERMTU = 1500;
/** Largest frame: header + ETHERMTU. Anything longer is a giant. */
export const ETHER_MAX_LEN = ETHER_HDR_LEN + ETHERMTU;
/** Smallest frame: a full header. Anything shorter is a runt. */
export const ETHER_MIN_LEN = ETHER_HDR_LEN;
/** Ethertypes below this are 802.3 lengths, not Ethernet II types. */
export const ETHERTYPE_MIN = 0x0600;
export const ETHERTYPE_IP = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";

/** Why a frame is not acceptable. */
export type FrameProblem = "runt" | "giant" | "not-ethernet-ii" | "multicast-source";

/**
 * What is wrong with `frame`, or undefined when it is a valid Ethernet II frame of at most
 * `maxLength` bytes (default ETHER_MAX_LEN).
 */
export function frameProblem(frame: Uint8Array, maxLength = ETHER_MAX_LEN): FrameProblem | undefined {
  if (frame.length < ETHER_MIN_LEN) return "runt";
  if (frame.length > maxLength) return "giant";
  if (frameEthertype(frame) < ETHERTYPE_MIN) return "not-ethernet-ii";
  // A source address with the group bit set is never legal (IEEE 802.3 clause 3.2.3).
  if (((frame[6] as number) & 1) === 1) return "multicast-source";
  return undefined;
}

export function frameEthertype(frame: Uint8Array): number {
  return (((frame[12] as number) << 8) | (frame[13] as number)) >>> 0;
}

/** Destination MAC of a frame (at least ETHER_HDR_LEN bytes) as text. */
export function frameDestination(frame: Uint8Array): string {
  return formatMac(frame, 0);
}

/** Source MAC of a frame as text. */
export function frameSource(frame: Uint8Array): string {
  return formatMac(frame, ETHER_ADDR_LEN);
}

/** True for broadcast and multicast destinations (the group bit of the first octet). */
export function isGroupMac(mac: string): boolean {
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Six bytes at `offset` as "aa:bb:cc:dd:ee:ff". */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  let text = HEX[bytes[offset] as number] as string;
  for (let i = 1; i < ETHER_ADDR_LEN; i++) text += `:${HEX[bytes[offset + i] as number]}`;
  return text;
}

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Parse "aa:bb:cc:dd:ee:ff" (any case) into six bytes; throws NetAddressError. */
export function parseMac(text: string): Uint8Array {
  if (!MAC_TEXT.test(text)) throw new NetAddressError("MAC", text);
  return Uint8Array.from(text.split(":"), (part) => Number.parseInt(part, 16));
}

/** The canonical (lower-case) text of a MAC; throws NetAddressError when it is not one. */
export function normalizeMac(text: string): string {
  return formatMac(parseMac(text));
}

/** A locally administered unicast MAC derived from a small number: 02:00:00:xx:xx:xx. */
export function localMac(n: number): string {
  const bytes = Uint8Array.of(0x02, 0, 0, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  return formatMac(bytes);
}
