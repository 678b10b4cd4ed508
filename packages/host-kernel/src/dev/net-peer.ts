/**
 * A scripted peer: a deterministic host on a bridge port that behaves as its script says
 * (net-peer-script.ts): it answers ARP and ping for its address, echoes UDP datagrams on the chosen ports
 * back to their sender, and sends scripted datagrams at virtual times (resolving the destination
 * with ARP first, as a real host would). It keeps a bounded log of the datagrams it received so
 * tests and the CLI can see what a guest sent. Everything it knows is plain data (`snapshot`).
 */

import type { Bridge, BridgeLink, BridgePort } from "./bridge.ts";
import { type EndpointSnapshot, NetEndpoint } from "./net-endpoint.ts";
import { NetSnapshotError } from "./net-errors.ts";
import { type PeerScript, parsePeerScript } from "./net-peer-script.ts";

/** A datagram the peer received. */
export interface PeerDatagram {
  /** Virtual time it reached the peer. */
  readonly at: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

export interface PeerSnapshot {
  readonly name: string;
  readonly script: PeerScript;
  /** Index of the next scripted send. */
  readonly nextSend: number;
  readonly endpoint: EndpointSnapshot;
  readonly received: readonly PeerDatagram[];
  readonly echoed: number;
}

/** Most received datagrams the peer remembers (oldest are forgotten first). */
export const PEER_LOG_LIMIT = 256;

export class NetPeer implements BridgePort {
  readonly name: string;
  readonly script: PeerScript;
  /** Datagrams received, oldest first (at most PEER_LOG_LIMIT). */
  readonly received: PeerDatagram[] = [];
  echoed = 0;
  #nextSend = 0;
  #link: BridgeLink | undefined;
  #endpoint: NetEndpoint;

  constructor(name: string, script: PeerScript | string) {
    this.name = name;
    this.script = typeof script === "string" ? parsePeerScript(script) : script;
    this.#endpoint = new NetEndpoint(
      this.script.mac,
      this.script.ip,
      (f, now) => this.#emit(f, now),
      this.script.arp,
    );
    this.#endpoint.answerPing = this.script.ping;
  }

  get endpoint(): NetEndpoint {
    return this.#endpoint;
  }

  /** Plug into `bridge` (a peer is on one bridge at a time). */
  attachTo(bridge: Bridge): BridgeLink {
    this.#link?.detach();
    this.#link = bridge.attach(this);
    return this.#link;
  }

  detach(): void {
    this.#link?.detach();
    this.#link = undefined;
  }

  receive(frame: Uint8Array, now: number): void {
    const udp = this.#endpoint.handleFrame(frame, now);
    if (udp === undefined) return;
    this.received.push({
      at: now,
      srcIp: udp.srcIp,
      srcPort: udp.srcPort,
      dstPort: udp.dstPort,
      payload: udp.payload.slice(),
    });
    if (this.received.length > PEER_LOG_LIMIT) this.received.shift();
    if (this.script.echoAll || this.script.echo.includes(udp.dstPort)) {
      this.echoed++;
      this.#endpoint.sendUdpTo(udp.srcMac, udp.srcIp, udp.dstPort, udp.srcPort, udp.payload, now);
    }
  }

  tick(now: number): void {
    const sends = this.script.sends;
    while (this.#nextSend < sends.length) {
      const send = sends[this.#nextSend];
      if (send === undefined || send.at > now) break;
      this.#nextSend++;
      this.#endpoint.sendUdp(send.dstIp, send.srcPort, send.dstPort, send.payload, send.at);
    }
  }

  nextEventTime(): number | undefined {
    return this.script.sends[this.#nextSend]?.at;
  }

  snapshot(): PeerSnapshot {
    return {
      name: this.name,
      script: this.script,
      nextSend: this.#nextSend,
      endpoint: this.#endpoint.snapshot(),
      received: this.received.map((d) => ({ ...d, payload: d.payload.slice() })),
      echoed: this.echoed,
    };
  }

  /** A peer in the saved state, not plugged in (call `attachTo`). */
  static fromSnapshot(s: PeerSnapshot): NetPeer {
    const peer = new NetPeer(s.name, s.script);
    if (!Number.isInteger(s.nextSend) || s.nextSend < 0 || s.nextSend > s.script.sends.length) {
      throw new NetSnapshotError(`peer ${s.name}`, "bad script position");
    }
    peer.#nextSend = s.nextSend;
    peer.#endpoint = NetEndpoint.fromSnapshot(s.endpoint, (f, now) => peer.#emit(f, now));
    for (const d of s.received) peer.received.push({ ...d, payload: d.payload.slice() });
    peer.echoed = s.echoed;
    return peer;
  }

  #emit(frame: Uint8Array, now: number): void {
    this.#link?.send(frame, now);
  }
}
