/**
 * A minimal codec for what the simulated network speaks: Ethernet II, ARP (IPv4 over Ethernet),
 * IPv4 headers with their checksum, UDP with its checksum, and ICMP echo (RFC 768, RFC 791,
 * RFC 792, RFC 826, RFC 1071). Encoders return fresh arrays; decoders check every length and checksum and throw
 * NetDecodeError, and the payloads they return are views into the input (copy what outlives it).
 *
 * IPv4 addresses appear as dotted-quad text ("10.0.0.2") in packet objects and as unsigned 32-bit
 * numbers where arithmetic needs them.
 */

import { NetAddressError, NetDecodeError } from "./net-errors.ts";
import {
  ETHER_ADDR_LEN,
  ETHER_HDR_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IP,
  formatMac,
  parseMac,
} from "./net-frame.ts";

export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const IPV4_HDR_LEN = 20;
export const UDP_HDR_LEN = 8;
export const ARP_PACKET_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
/** Default TTL of packets the simulated endpoints send. */
export const IP_DEFAULT_TTL = 64;

const IPV4_TEXT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "10.0.0.2" → 0x0a000002; throws NetAddressError. */
export function parseIpv4Address(text: string): number {
  const m = IPV4_TEXT.exec(text);
  if (m === null) throw new NetAddressError("IPv4", text);
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new NetAddressError("IPv4", text);
    value = value * 256 + octet;
  }
  return value;
}

/** 0x0a000002 → "10.0.0.2". */
export function formatIpv4Address(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** The canonical text of an IPv4 address; throws NetAddressError when it is not one. */
export function normalizeIpv4Address(text: string): string {
  return formatIpv4Address(parseIpv4Address(text));
}

/**
 * The unfolded 32-bit one's-complement sum of `bytes[start..end)` taken as big-endian 16-bit
 * words (an odd last byte is padded with zero), added to `initial`.
 */
export function onesComplementSum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (i < end) sum += (bytes[i] as number) << 8;
  return sum;
}

/** Fold a one's-complement sum to 16 bits and complement it: the Internet checksum (RFC 1071). */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The Internet checksum of `bytes[start..end)`. A block that holds its own correct checksum sums to 0. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return foldChecksum(onesComplementSum(bytes, start, end));
}

// ── Ethernet ─────────────────────────────────────────────────────────────────────────────────

export interface EthernetFrame {
  readonly dst: string;
  readonly src: string;
  readonly ethertype: number;
  readonly payload: Uint8Array;
}

export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  const out = new Uint8Array(ETHER_HDR_LEN + frame.payload.length);
  out.set(parseMac(frame.dst), 0);
  out.set(parseMac(frame.src), ETHER_ADDR_LEN);
  out[12] = (frame.ethertype >>> 8) & 0xff;
  out[13] = frame.ethertype & 0xff;
  out.set(frame.payload, ETHER_HDR_LEN);
  return out;
}

export function decodeEthernet(bytes: Uint8Array): EthernetFrame {
  if (bytes.length < ETHER_HDR_LEN) {
    throw new NetDecodeError("Ethernet frame", `${bytes.length} bytes is shorter than its header`);
  }
  return {
    dst: formatMac(bytes, 0),
    src: formatMac(bytes, ETHER_ADDR_LEN),
    ethertype: ((bytes[12] as number) << 8) | (bytes[13] as number),
    payload: bytes.subarray(ETHER_HDR_LEN),
  };
}

// ── ARP ──────────────────────────────────────────────────────────────────────────────────────

export interface ArpPacket {
  /** ARP_REQUEST or ARP_REPLY. */
  readonly op: number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

/** The 28-byte ARP payload (hardware Ethernet, protocol IPv4). */
export function encodeArp(arp: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_PACKET_LEN);
  const view = new DataView(out.buffer);
  view.setUint16(0, 1); // htype: Ethernet
  view.setUint16(2, ETHERTYPE_IP); // ptype
  out[4] = ETHER_ADDR_LEN;
  out[5] = 4;
  view.setUint16(6, arp.op);
  out.set(parseMac(arp.senderMac), 8);
  view.setUint32(14, parseIpv4Address(arp.senderIp));
  out.set(parseMac(arp.targetMac), 18);
  view.setUint32(24, parseIpv4Address(arp.targetIp));
  return out;
}

export function decodeArp(bytes: Uint8Array): ArpPacket {
  if (bytes.length < ARP_PACKET_LEN)
    throw new NetDecodeError("ARP packet", `${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 1 || view.getUint16(2) !== ETHERTYPE_IP || bytes[4] !== 6 || bytes[5] !== 4) {
    throw new NetDecodeError("ARP packet", "not Ethernet/IPv4");
  }
  return {
    op: view.getUint16(6),
    senderMac: formatMac(bytes, 8),
    senderIp: formatIpv4Address(view.getUint32(14)),
    targetMac: formatMac(bytes, 18),
    targetIp: formatIpv4Address(view.getUint32(24)),
  };
}

// ── IPv4 ─────────────────────────────────────────────────────────────────────────────────────

export interface Ipv4Packet {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly payload: Uint8Array;
  /** Default IP_DEFAULT_TTL. */
  readonly ttl?: number;
  /** Identification field; default 0. */
  readonly id?: number;
  /** The DF bit; default true (nothing here fragments). */
  readonly dontFragment?: boolean;
}

/** A 20-byte header (no options) with its checksum, followed by the payload. */
export function encodeIpv4(packet: Ipv4Packet): Uint8Array {
  const total = IPV4_HDR_LEN + packet.payload.length;
  if (total > 0xffff) throw new NetDecodeError("IPv4 packet", `${total} bytes exceeds 65535`);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = 0x45; // version 4, IHL 5
  view.setUint16(2, total);
  view.setUint16(4, (packet.id ?? 0) & 0xffff);
  view.setUint16(6, packet.dontFragment === false ? 0 : 0x4000);
  out[8] = packet.ttl ?? IP_DEFAULT_TTL;
  out[9] = packet.protocol;
  view.setUint32(12, parseIpv4Address(packet.src));
  view.setUint32(16, parseIpv4Address(packet.dst));
  view.setUint16(10, internetChecksum(out, 0, IPV4_HDR_LEN));
  out.set(packet.payload, IPV4_HDR_LEN);
  return out;
}

export interface DecodedIpv4 extends Ipv4Packet {
  readonly ttl: number;
  readonly id: number;
  readonly dontFragment: boolean;
  /** Header length in bytes (options are skipped, not interpreted). */
  readonly headerLength: number;
}

/**
 * Decode and verify an IPv4 packet. Bytes past the total length (Ethernet padding) are ignored.
 * Fragments are refused: nothing in the simulated network fragments or reassembles.
 */
export function decodeIpv4(bytes: Uint8Array): DecodedIpv4 {
  if (bytes.length < IPV4_HDR_LEN)
    throw new NetDecodeError("IPv4 packet", `${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = bytes[0] as number;
  if (first >> 4 !== 4) throw new NetDecodeError("IPv4 packet", `version ${first >> 4} is not 4`);
  const headerLength = (first & 0xf) * 4;
  const total = view.getUint16(2);
  if (headerLength < IPV4_HDR_LEN || total < headerLength || total > bytes.length) {
    throw new NetDecodeError(
      "IPv4 packet",
      `header length ${headerLength} / total length ${total} is inconsistent`,
    );
  }
  if (internetChecksum(bytes, 0, headerLength) !== 0)
    throw new NetDecodeError("IPv4 packet", "bad header checksum");
  const fragment = view.getUint16(6);
  if ((fragment & 0x3fff) !== 0) throw new NetDecodeError("IPv4 packet", "fragments are not supported");
  return {
    src: formatIpv4Address(view.getUint32(12)),
    dst: formatIpv4Address(view.getUint32(16)),
    protocol: bytes[9] as number,
    ttl: bytes[8] as number,
    id: view.getUint16(4),
    dontFragment: (fragment & 0x4000) !== 0,
    headerLength,
    payload: bytes.subarray(headerLength, total),
  };
}

// ── UDP ──────────────────────────────────────────────────────────────────────────────────────

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

function pseudoHeaderSum(srcIp: string, dstIp: string, length: number): number {
  const src = parseIpv4Address(srcIp);
  const dst = parseIpv4Address(dstIp);
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_UDP + length;
}

/** A UDP header and payload with the checksum over the IPv4 pseudo-header (0 is sent as 0xffff). */
export function encodeUdp(datagram: UdpDatagram, srcIp: string, dstIp: string): Uint8Array {
  const length = UDP_HDR_LEN + datagram.payload.length;
  if (length > 0xffff) throw new NetDecodeError("UDP datagram", `${length} bytes exceeds 65535`);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint16(0, datagram.srcPort);
  view.setUint16(2, datagram.dstPort);
  view.setUint16(4, length);
  out.set(datagram.payload, UDP_HDR_LEN);
  const sum = foldChecksum(onesComplementSum(out, 0, length, pseudoHeaderSum(srcIp, dstIp, length)));
  view.setUint16(6, sum === 0 ? 0xffff : sum);
  return out;
}

/** Decode a UDP datagram carried from `srcIp` to `dstIp`; a zero checksum means "not computed". */
export function decodeUdp(bytes: Uint8Array, srcIp: string, dstIp: string): UdpDatagram {
  if (bytes.length < UDP_HDR_LEN)
    throw new NetDecodeError("UDP datagram", `${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint16(4);
  if (length < UDP_HDR_LEN || length > bytes.length) {
    throw new NetDecodeError("UDP datagram", `length field ${length} does not fit ${bytes.length} bytes`);
  }
  if (view.getUint16(6) !== 0) {
    const sum = foldChecksum(onesComplementSum(bytes, 0, length, pseudoHeaderSum(srcIp, dstIp, length)));
    if (sum !== 0) throw new NetDecodeError("UDP datagram", "bad checksum");
  }
  return {
    srcPort: view.getUint16(0),
    dstPort: view.getUint16(2),
    payload: bytes.subarray(UDP_HDR_LEN, length),
  };
}

// ── ICMP echo ────────────────────────────────────────────────────────────────────────────────

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_HDR_LEN = 8;

/** An ICMP echo request or reply (RFC 792): what ping sends and gets back. */
export interface IcmpEcho {
  /** ICMP_ECHO_REQUEST or ICMP_ECHO_REPLY. */
  readonly type: number;
  readonly id: number;
  readonly seq: number;
  readonly data: Uint8Array;
}

export function encodeIcmpEcho(echo: IcmpEcho): Uint8Array {
  const out = new Uint8Array(ICMP_HDR_LEN + echo.data.length);
  const view = new DataView(out.buffer);
  out[0] = echo.type;
  view.setUint16(4, echo.id);
  view.setUint16(6, echo.seq);
  out.set(echo.data, ICMP_HDR_LEN);
  view.setUint16(2, internetChecksum(out));
  return out;
}

/** Decode an ICMP echo request or reply, verifying its checksum. */
export function decodeIcmpEcho(bytes: Uint8Array): IcmpEcho {
  if (bytes.length < ICMP_HDR_LEN)
    throw new NetDecodeError("ICMP message", `${bytes.length} bytes is too short`);
  if (internetChecksum(bytes) !== 0) throw new NetDecodeError("ICMP message", "bad checksum");
  const type = bytes[0] as number;
  if ((type !== ICMP_ECHO_REQUEST && type !== ICMP_ECHO_REPLY) || bytes[1] !== 0) {
    throw new NetDecodeError("ICMP message", `type ${type} code ${bytes[1]} is not an echo`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { type, id: view.getUint16(4), seq: view.getUint16(6), data: bytes.subarray(ICMP_HDR_LEN) };
}

// ── Whole frames ─────────────────────────────────────────────────────────────────────────────

/** One UDP datagram in an IPv4 packet in an Ethernet frame, flattened. */
export interface UdpFrame {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly id?: number;
}

export function encodeUdpFrame(f: UdpFrame): Uint8Array {
  const udp = encodeUdp({ srcPort: f.srcPort, dstPort: f.dstPort, payload: f.payload }, f.srcIp, f.dstIp);
  const ip = encodeIpv4({
    src: f.srcIp,
    dst: f.dstIp,
    protocol: IPPROTO_UDP,
    payload: udp,
    ...(f.ttl === undefined ? {} : { ttl: f.ttl }),
    ...(f.id === undefined ? {} : { id: f.id }),
  });
  return encodeEthernet({ dst: f.dstMac, src: f.srcMac, ethertype: ETHERTYPE_IP, payload: ip });
}

/** Decode an Ethernet/IPv4/UDP frame, verifying both checksums. */
export function decodeUdpFrame(frame: Uint8Array): UdpFrame {
  const eth = decodeEthernet(frame);
  if (eth.ethertype !== ETHERTYPE_IP) {
    throw new NetDecodeError("UDP frame", `ethertype 0x${eth.ethertype.toString(16)} is not IPv4`);
  }
  const ip = decodeIpv4(eth.payload);
  if (ip.protocol !== IPPROTO_UDP)
    throw new NetDecodeError("UDP frame", `IP protocol ${ip.protocol} is not UDP`);
  return udpFrameOf(eth, ip);
}

/** The UDP frame carried by an already decoded Ethernet frame and IPv4 packet (checksum verified). */
export function udpFrameOf(eth: EthernetFrame, ip: DecodedIpv4): UdpFrame {
  const udp = decodeUdp(ip.payload, ip.src, ip.dst);
  return {
    srcMac: eth.src,
    dstMac: eth.dst,
    srcIp: ip.src,
    dstIp: ip.dst,
    srcPort: udp.srcPort,
    dstPort: udp.dstPort,
    payload: udp.payload,
    ttl: ip.ttl,
    id: ip.id,
  };
}

/** An ARP packet in an Ethernet frame: requests are broadcast, replies go to the target MAC. */
export function encodeArpFrame(arp: ArpPacket): Uint8Array {
  const dst = arp.op === ARP_REQUEST ? "ff:ff:ff:ff:ff:ff" : arp.targetMac;
  return encodeEthernet({ dst, src: arp.senderMac, ethertype: ETHERTYPE_ARP, payload: encodeArp(arp) });
}

export function decodeArpFrame(frame: Uint8Array): ArpPacket {
  const eth = decodeEthernet(frame);
  if (eth.ethertype !== ETHERTYPE_ARP) {
    throw new NetDecodeError("ARP frame", `ethertype 0x${eth.ethertype.toString(16)} is not ARP`);
  }
  return decodeArp(eth.payload);
}
