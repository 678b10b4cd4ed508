/**
 * A tiny IPv4 host on a bridge port, shared by the scripted peer and the UDP uplink: one MAC and
 * one IPv4 address, an ARP cache (learned from ARP traffic and from IPv4 frames addressed to it),
 * answers to ARP requests and ICMP echo requests (ping) for its address, and UDP sending that resolves the destination MAC
 * first, holding datagrams (bounded) until the ARP reply comes. All of it is plain data.
 */

import { NetSnapshotError } from "./net-errors.ts";
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IP, frameEthertype, normalizeMac } from "./net-frame.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  decodeArpFrame,
  decodeEthernet,
  decodeIcmpEcho,
  decodeIpv4,
  encodeArpFrame,
  encodeEthernet,
  encodeIcmpEcho,
  encodeIpv4,
  encodeUdpFrame,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  normalizeIpv4Address,
  type UdpFrame,
  udpFrameOf,
} from "./net-ipv4.ts";

/** A datagram waiting for its destination's MAC. */
export interface PendingDatagram {
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

export interface EndpointStats {
  arpRequestsAnswered: number;
  arpRequestsSent: number;
  /** ICMP echo requests answered. */
  pingsAnswered: number;
  udpReceived: number;
  udpSent: number;
  /** Frames addressed to this endpoint that did not decode (bad checksum, truncated, ...). */
  malformed: number;
  /** Datagrams dropped because too many were waiting for ARP. */
  pendingDropped: number;
}

export interface EndpointSnapshot {
  readonly mac: string;
  readonly ip: string;
  readonly answerArp: boolean;
  readonly answerPing: boolean;
  readonly ipId: number;
  readonly arpCache: readonly { readonly ip: string; readonly mac: string }[];
  readonly pending: readonly PendingDatagram[];
  /** Virtual time of the last ARP request per unresolved address. */
  readonly arpAsked: readonly { readonly ip: string; readonly at: number }[];
  readonly stats: EndpointStats;
}

/** Most datagrams held for one unresolved address. */
export const ENDPOINT_MAX_PENDING = 16;
/** Virtual nanoseconds before an unanswered ARP request is repeated. */
export const ARP_RETRY_NS = 1_000_000;

export class NetEndpoint {
  readonly mac: string;
  readonly ip: string;
  answerArp: boolean;
  /** Answer ICMP echo requests for `ip`. */
  answerPing = true;
  readonly stats: EndpointStats = {
    arpRequestsAnswered: 0,
    arpRequestsSent: 0,
    pingsAnswered: 0,
    udpReceived: 0,
    udpSent: 0,
    malformed: 0,
    pendingDropped: 0,
  };
  #ipId = 0;
  readonly #arp = new Map<string, string>();
  readonly #pending: PendingDatagram[] = [];
  readonly #asked = new Map<string, number>();
  readonly #send: (frame: Uint8Array, now: number) => void;

  constructor(mac: string, ip: string, send: (frame: Uint8Array, now: number) => void, answerArp = true) {
    this.mac = normalizeMac(mac);
    this.ip = normalizeIpv4Address(ip);
    this.answerArp = answerArp;
    this.#send = send;
  }

  /** A static ARP entry. */
  setArp(ip: string, mac: string): void {
    this.#arp.set(normalizeIpv4Address(ip), normalizeMac(mac));
  }

  lookupArp(ip: string): string | undefined {
    return this.#arp.get(ip);
  }

  /**
   * Handle a frame that reached the port: answer or learn from ARP, and return the UDP datagram
   * when the frame carries one for this endpoint (its MAC or broadcast, its IP).
   */
  handleFrame(frame: Uint8Array, now: number): UdpFrame | undefined {
    const ethertype = frameEthertype(frame);
    try {
      if (ethertype === ETHERTYPE_ARP) {
        this.#handleArp(frame, now);
        return undefined;
      }
      if (ethertype !== ETHERTYPE_IP) return undefined;
      const eth = decodeEthernet(frame);
      if (eth.dst !== this.mac && eth.dst !== BROADCAST_MAC) return undefined;
      const ip = decodeIpv4(eth.payload);
      if (ip.dst !== this.ip) return undefined;
      if (ip.protocol === IPPROTO_ICMP) {
        this.#handleIcmp(eth.src, ip.src, ip.payload, now);
        return undefined;
      }
      if (ip.protocol !== IPPROTO_UDP) return undefined;
      const udp = udpFrameOf(eth, ip);
      this.#learn(ip.src, eth.src, now);
      this.stats.udpReceived++;
      return udp;
    } catch {
      this.stats.malformed++;
      return undefined;
    }
  }

  /** Send a UDP datagram from this endpoint, resolving `dstIp` with ARP when needed. */
  sendUdp(dstIp: string, srcPort: number, dstPort: number, payload: Uint8Array, now: number): void {
    const mac = this.#arp.get(dstIp);
    if (mac !== undefined) {
      this.sendUdpTo(mac, dstIp, srcPort, dstPort, payload, now);
      return;
    }
    if (this.#pending.filter((p) => p.dstIp === dstIp).length >= ENDPOINT_MAX_PENDING) {
      this.stats.pendingDropped++;
    } else {
      this.#pending.push({ dstIp, srcPort, dstPort, payload: payload.slice() });
    }
    const asked = this.#asked.get(dstIp);
    if (asked === undefined || now - asked >= ARP_RETRY_NS) this.#askArp(dstIp, now);
  }

  /** Send a UDP datagram to a known MAC. */
  sendUdpTo(
    dstMac: string,
    dstIp: string,
    srcPort: number,
    dstPort: number,
    payload: Uint8Array,
    now: number,
  ): void {
    const id = this.#nextIpId();
    this.stats.udpSent++;
    this.#send(
      encodeUdpFrame({ srcMac: this.mac, dstMac, srcIp: this.ip, dstIp, srcPort, dstPort, payload, id }),
      now,
    );
  }

  snapshot(): EndpointSnapshot {
    return {
      mac: this.mac,
      ip: this.ip,
      answerArp: this.answerArp,
      answerPing: this.answerPing,
      ipId: this.#ipId,
      arpCache: [...this.#arp].map(([ip, mac]) => ({ ip, mac })),
      pending: this.#pending.map((p) => ({ ...p, payload: p.payload.slice() })),
      arpAsked: [...this.#asked].map(([ip, at]) => ({ ip, at })),
      stats: { ...this.stats },
    };
  }

  static fromSnapshot(s: EndpointSnapshot, send: (frame: Uint8Array, now: number) => void): NetEndpoint {
    const endpoint = new NetEndpoint(s.mac, s.ip, send, s.answerArp);
    endpoint.answerPing = s.answerPing;
    if (!Number.isInteger(s.ipId) || s.ipId < 0 || s.ipId > 0xffff) {
      throw new NetSnapshotError(`endpoint ${s.ip}`, "bad IP identification counter");
    }
    endpoint.#ipId = s.ipId;
    for (const { ip, mac } of s.arpCache) endpoint.setArp(ip, mac);
    for (const p of s.pending) endpoint.#pending.push({ ...p, payload: p.payload.slice() });
    for (const { ip, at } of s.arpAsked) endpoint.#asked.set(ip, at);
    Object.assign(endpoint.stats, s.stats);
    return endpoint;
  }

  #handleArp(frame: Uint8Array, now: number): void {
    const arp = decodeArpFrame(frame);
    if (arp.op === ARP_REQUEST && arp.targetIp === this.ip && this.answerArp) {
      this.#learn(arp.senderIp, arp.senderMac, now);
      this.stats.arpRequestsAnswered++;
      const reply = {
        op: ARP_REPLY,
        senderMac: this.mac,
        senderIp: this.ip,
        targetMac: arp.senderMac,
        targetIp: arp.senderIp,
      };
      this.#send(encodeArpFrame(reply), now);
    } else if (arp.op === ARP_REPLY && arp.targetIp === this.ip) {
      this.#learn(arp.senderIp, arp.senderMac, now);
    } else if (this.#arp.has(arp.senderIp) || this.#asked.has(arp.senderIp)) {
      // RFC 826: refresh an entry we already have (or are waiting for) from any ARP packet.
      this.#learn(arp.senderIp, arp.senderMac, now);
    }
  }

  #handleIcmp(srcMac: string, srcIp: string, message: Uint8Array, now: number): void {
    const echo = decodeIcmpEcho(message);
    if (echo.type !== ICMP_ECHO_REQUEST || !this.answerPing) return;
    this.#learn(srcIp, srcMac, now);
    this.stats.pingsAnswered++;
    const reply = encodeIcmpEcho({ type: ICMP_ECHO_REPLY, id: echo.id, seq: echo.seq, data: echo.data });
    const ip = encodeIpv4({
      src: this.ip,
      dst: srcIp,
      protocol: IPPROTO_ICMP,
      id: this.#nextIpId(),
      payload: reply,
    });
    this.#send(encodeEthernet({ dst: srcMac, src: this.mac, ethertype: ETHERTYPE_IP, payload: ip }), now);
  }

  #nextIpId(): number {
    const id = this.#ipId;
    this.#ipId = (this.#ipId + 1) & 0xffff;
    return id;
  }

  #learn(ip: string, mac: string, now: number): void {
    if (ip === "0.0.0.0") return;
    this.#arp.set(ip, mac);
    this.#asked.delete(ip);
    const ready = this.#pending.filter((p) => p.dstIp === ip);
    if (ready.length === 0) return;
    const rest = this.#pending.filter((p) => p.dstIp !== ip);
    this.#pending.length = 0;
    this.#pending.push(...rest);
    for (const p of ready) this.sendUdpTo(mac, ip, p.srcPort, p.dstPort, p.payload, now);
  }

  #askArp(ip: string, now: number): void {
    this.#asked.set(ip, now);
    this.stats.arpRequestsSent++;
    const request = {
      op: ARP_REQUEST,
      senderMac: this.mac,
      senderIp: this.ip,
      targetMac: "00:00:00:00:00:00",
      targetIp: ip,
    };
    this.#send(encodeArpFrame(request), now);
  }
}
