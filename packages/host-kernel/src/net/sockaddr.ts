/**
 * `struct sockaddr_in` as the ABI lays it out (Linux): u16 sin_family (host order, little-endian
 * here), u16 sin_port (network order), u8 sin_addr[4] (network order), u8 sin_zero[8]: 16 bytes.
 */

import { formatIpv4Address, parseIpv4Address } from "../dev/net-ipv4.ts";

export const AF_INET = 2;
export const SOCKADDR_IN_SIZE = 16;

export interface SockaddrIn {
  readonly family: number;
  readonly port: number;
  /** Dotted quad. */
  readonly address: string;
}

/** Decode the first 16 bytes of `bytes`. */
export function decodeSockaddrIn(bytes: Uint8Array): SockaddrIn {
  const v = new DataView(bytes.buffer, bytes.byteOffset, SOCKADDR_IN_SIZE);
  return { family: v.getUint16(0, true), port: v.getUint16(2), address: formatIpv4Address(v.getUint32(4)) };
}

export function encodeSockaddrIn(address: string, port: number): Uint8Array {
  const out = new Uint8Array(SOCKADDR_IN_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port);
  v.setUint32(4, parseIpv4Address(address));
  return out;
}
