import { describe, expect, it } from "vitest";
import { O_NONBLOCK, O_RDWR } from "../fs/file-types.ts";
import { EAGAIN } from "../syscall/errno.ts";
import { Bridge } from "./bridge.ts";
import { BridgeRegistry } from "./bridge-registry.ts";
import { PeerScriptError } from "./net-errors.ts";
import { BROADCAST_MAC, ETHERTYPE_IP } from "./net-frame.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  decodeArpFrame,
  decodeEthernet,
  decodeIcmpEcho,
  decodeIpv4,
  decodeUdpFrame,
  encodeArpFrame,
  encodeEthernet,
  encodeIcmpEcho,
  encodeIpv4,
  encodeUdpFrame,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPPROTO_ICMP,
} from "./net-ipv4.ts";
import { NetPeer } from "./net-peer.ts";
import { parsePeerScript, parseVirtualTime } from "./net-peer-script.ts";
import { FakeCaller, FakeHost, readVia } from "./net-test-support.ts";
import { TapDevices } from "./tap-devices.ts";
import { isTapFile } from "./tap-file.ts";

const SCRIPT = `
# a peer that answers ARP, echoes port 7 and talks first at 2 ms
mac 02:00:00:00:00:fe
ip 10.0.0.2
echo 7
at 2ms send 10.0.0.1:5000 from 9000 "hello\\n"
at 1ms send 10.0.0.1:5000 from 9000 hex:0001ff
`;

const GUEST_MAC = "02:00:00:00:00:01";
const GUEST_IP = "10.0.0.1";
const PEER_MAC = "02:00:00:00:00:fe";
const PEER_IP = "10.0.0.2";
const text = (s: string) => new TextEncoder().encode(s);

/** A guest on tap0 (driven through the file interface) and the scripted peer on br0. */
function setup(script = SCRIPT) {
  const bridges = new BridgeRegistry();
  const bridge = bridges.create("br0", { latency: 1000 });
  const host = new FakeHost();
  const caller = new FakeCaller();
  const tap = new TapDevices(bridges).open(0, host);
  if (typeof tap === "number" || !isTapFile(tap)) throw new Error("open failed");
  tap.device.setUp(true);
  tap.device.setBridge("br0");
  const peer = new NetPeer("peer0", script);
  peer.attachTo(bridge);
  const file = { flags: O_RDWR | O_NONBLOCK, offset: 0 };
  const write = (frame: Uint8Array) => expect(tap.write(file, frame, caller)).toBe(frame.length);
  const read = () => readVia(tap, file, 1514, caller);
  /** Advance virtual time, polling the bridges the way the kernel's run loop does. */
  const runTo = (t: number) => {
    host.time = t;
    bridges.poll(t);
  };
  return { bridges, bridge, host, tap, peer, write, read, runTo };
}

describe("peer script", () => {
  it("parses directives, units and payloads, sorting sends by time", () => {
    const script = parsePeerScript(SCRIPT);
    expect(script).toMatchObject({ mac: PEER_MAC, ip: PEER_IP, arp: true, echo: [7], echoAll: false });
    expect(script.sends.map((s) => [s.at, [...s.payload]])).toEqual([
      [1_000_000, [0, 1, 255]],
      [2_000_000, [...text("hello\n")]],
    ]);
    const times = ["1.5us", "1.1ms", "3s", "7", "1_000us", "1.0005us", "x", "1.5"];
    expect(times.map((t) => parseVirtualTime(t))).toEqual([
      1500,
      1_100_000,
      3_000_000_000,
      7,
      1_000_000,
      undefined,
      undefined,
      undefined,
    ]);
    const relative = parsePeerScript(
      'mac 02:00:00:00:00:fe\nip 10.0.0.2\nat 5ms send 10.0.0.1:1 from 2 "a"\nat +1_000us send 10.0.0.1:1 from 2 "b"',
    );
    expect(relative.sends.map((s) => s.at)).toEqual([5_000_000, 6_000_000]);
  });

  it("names the line of each mistake", () => {
    const bad = [
      ["mac 02:00:00:00:00:fe\nip 10.0.0.2\nfly away", /line 3: unknown directive/],
      ["mac 01:00:00:00:00:fe\nip 10.0.0.2", /line 1: .*unicast/],
      ["mac 02:00:00:00:00:fe\nip 10.0.0.300", /line 2: invalid IPv4/],
      ["mac 02:00:00:00:00:fe\nip 10.0.0.2\necho 70000", /line 3: invalid UDP port/],
      ["mac 02:00:00:00:00:fe\nip 10.0.0.2\nat 1ms send 10.0.0.1:5 from 6 hello", /line 3: payload/],
      ["mac 02:00:00:00:00:fe\nip 10.0.0.2\nat soon send 10.0.0.1:5 from 6 hex:00", /line 3: invalid time/],
      ["mac 02:00:00:00:00:fe\nip 10.0.0.2\nat 1 send 10.0.0.1:5 from 6 hex:0", /line 3: payload/],
      ["ip 10.0.0.2", /no mac line/],
    ] as const;
    for (const [script, message] of bad) {
      expect(() => parsePeerScript(script)).toThrow(PeerScriptError);
      expect(() => parsePeerScript(script)).toThrow(message);
    }
  });
});

describe("scripted peer on a bridge with a tap", () => {
  it("answers ARP for its address, and only for it", () => {
    const t = setup();
    const ask = (targetIp: string) =>
      encodeArpFrame({
        op: ARP_REQUEST,
        senderMac: GUEST_MAC,
        senderIp: GUEST_IP,
        targetMac: "00:00:00:00:00:00",
        targetIp,
      });
    t.write(ask("10.0.0.99"));
    t.write(ask(PEER_IP));
    t.runTo(1000); // request delivered to the peer, reply queued
    expect(t.read().result).toBe(-EAGAIN);
    t.runTo(2000);
    const reply = t.read();
    expect(reply.result).toBe(42);
    expect(decodeArpFrame(reply.bytes)).toEqual({
      op: ARP_REPLY,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetMac: GUEST_MAC,
      targetIp: GUEST_IP,
    });
    expect(t.read().result).toBe(-EAGAIN);
  });

  it("answers ping unless its script says ping off", () => {
    const ping = (seq: number) => {
      const icmp = encodeIcmpEcho({ type: ICMP_ECHO_REQUEST, id: 77, seq, data: text("abc") });
      const ip = encodeIpv4({ src: GUEST_IP, dst: PEER_IP, protocol: IPPROTO_ICMP, payload: icmp });
      return encodeEthernet({ dst: PEER_MAC, src: GUEST_MAC, ethertype: ETHERTYPE_IP, payload: ip });
    };
    const t = setup();
    t.write(ping(1));
    t.runTo(2000);
    const reply = decodeEthernet(t.read().bytes);
    const ip = decodeIpv4(reply.payload);
    expect([reply.dst, ip.src, ip.dst, ip.protocol]).toEqual([GUEST_MAC, PEER_IP, GUEST_IP, IPPROTO_ICMP]);
    expect(decodeIcmpEcho(ip.payload)).toEqual({ type: ICMP_ECHO_REPLY, id: 77, seq: 1, data: text("abc") });

    const quiet = setup(`${SCRIPT}\nping off`);
    quiet.write(ping(2));
    quiet.runTo(5000);
    expect(quiet.read().result).toBe(-EAGAIN);
    expect(quiet.peer.endpoint.stats.pingsAnswered).toBe(0);
  });

  it("echoes UDP datagrams on its echo port back to the sender, and only there", () => {
    const t = setup();
    const datagram = (dstPort: number, payload: string) =>
      encodeUdpFrame({
        srcMac: GUEST_MAC,
        dstMac: PEER_MAC,
        srcIp: GUEST_IP,
        dstIp: PEER_IP,
        srcPort: 4000,
        dstPort,
        payload: text(payload),
      });
    t.write(datagram(7, "ping"));
    t.write(datagram(8, "ignored"));
    t.runTo(2000); // delivered at 1000, echoed at 1000, back at 2000
    const echo = decodeUdpFrame(t.read().bytes);
    expect(echo).toMatchObject({ srcMac: PEER_MAC, dstMac: GUEST_MAC, srcIp: PEER_IP, dstIp: GUEST_IP });
    expect([echo.srcPort, echo.dstPort, new TextDecoder().decode(echo.payload)]).toEqual([7, 4000, "ping"]);
    expect(t.read().result).toBe(-EAGAIN);
    expect(t.peer.received.map((d) => d.dstPort)).toEqual([7, 8]);
    expect(t.peer.echoed).toBe(1);
  });

  it("drops a datagram with a bad checksum without echoing it", () => {
    const t = setup();
    const frame = encodeUdpFrame({
      srcMac: GUEST_MAC,
      dstMac: PEER_MAC,
      srcIp: GUEST_IP,
      dstIp: PEER_IP,
      srcPort: 1,
      dstPort: 7,
      payload: text("x"),
    });
    frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 1;
    t.write(frame);
    t.runTo(5000);
    expect(t.read().result).toBe(-EAGAIN);
    expect(t.peer.endpoint.stats.malformed).toBe(1);
  });

  it("sends scripted datagrams at their virtual times, resolving the guest with ARP first", () => {
    const t = setup();
    expect(t.bridges.nextEventTime()).toBe(1_000_000);
    t.runTo(999_999);
    expect(t.read().result).toBe(-EAGAIN);
    t.runTo(1_000_000); // peer asks who has 10.0.0.1
    expect(t.read().result).toBe(-EAGAIN); // still in flight (latency 1000)
    t.runTo(1_001_000);
    const request = decodeArpFrame(t.read().bytes);
    expect(request).toMatchObject({ op: ARP_REQUEST, senderIp: PEER_IP, targetIp: GUEST_IP });
    t.write(
      encodeArpFrame({
        op: ARP_REPLY,
        senderMac: GUEST_MAC,
        senderIp: GUEST_IP,
        targetMac: PEER_MAC,
        targetIp: PEER_IP,
      }),
    );
    t.runTo(1_002_000); // reply reaches the peer, which releases the held datagram
    t.runTo(1_003_000);
    const first = decodeUdpFrame(t.read().bytes);
    expect([first.dstMac, first.dstPort, first.srcPort, [...first.payload]]).toEqual([
      GUEST_MAC,
      5000,
      9000,
      [0, 1, 255],
    ]);
    expect(t.bridges.nextEventTime()).toBe(2_000_000);
    t.runTo(2_001_000); // MAC now known: no more ARP
    expect(new TextDecoder().decode(decodeUdpFrame(t.read().bytes).payload)).toBe("hello\n");
    expect(t.read().result).toBe(-EAGAIN);
    expect(t.bridges.nextEventTime()).toBeUndefined();
  });

  it("floods its ARP requests, so a guest on any port sees them", () => {
    const t = setup();
    t.runTo(1_001_000);
    expect(t.read().bytes.subarray(0, 6)).toEqual(
      Uint8Array.from(BROADCAST_MAC.split(":"), (x) => Number.parseInt(x, 16)),
    );
  });

  it("resumes from a snapshot mid-script exactly as the original continues", () => {
    const trace = (cut: boolean) => {
      let t = setup();
      t.runTo(1_001_000);
      t.read();
      t.write(
        encodeArpFrame({
          op: ARP_REPLY,
          senderMac: GUEST_MAC,
          senderIp: GUEST_IP,
          targetMac: PEER_MAC,
          targetIp: PEER_IP,
        }),
      );
      t.runTo(1_500_000);
      if (cut) {
        const saved = structuredClone({
          peer: t.peer.snapshot(),
          bridge: t.bridge.snapshot(),
          tap: t.tap.snapshot(),
        });
        t = setup();
        t.peer.detach();
        t.bridges.delete("br0");
        t.tap.close({ flags: 0, offset: 0 });
        const bridge = t.bridges.add(Bridge.fromSnapshot(saved.bridge));
        const peer = NetPeer.fromSnapshot(saved.peer);
        peer.attachTo(bridge);
        t = { ...t, bridge, peer };
        const reopened = new TapDevices(t.bridges).reopen(saved.tap, t.host);
        const file = { flags: O_RDWR | O_NONBLOCK, offset: 0 };
        t.read = () => readVia(reopened, file, 1514, new FakeCaller());
      }
      const out: string[] = [];
      for (let time = 1_600_000; time <= 2_100_000; time += 100_000) {
        t.runTo(time);
        for (let r = t.read(); typeof r.result === "number" && r.result > 0; r = t.read()) {
          out.push(`${time}:${Buffer.from(r.bytes).toString("hex")}`);
        }
      }
      return { out, received: t.peer.snapshot() };
    };
    const plain = trace(false);
    const cut = trace(true);
    expect(cut.out).toEqual(plain.out);
    expect(cut.out.length).toBe(2);
    expect(cut.received.endpoint).toEqual(plain.received.endpoint);
  });

  it("gives the same frames however often the kernel polls", () => {
    const trace = (step: number) => {
      const t = setup();
      const out: string[] = [];
      for (let time = 0; time <= 3_000_000; time += step) {
        t.runTo(time);
        for (let r = t.read(); typeof r.result === "number" && r.result > 0; r = t.read()) {
          const bytes = r.bytes.slice();
          out.push(Buffer.from(bytes).toString("hex"));
          // The guest answers ARP and pings the echo port whenever it hears from the peer.
          if (bytes[12] === 0x08 && bytes[13] === 0x06) {
            t.write(
              encodeArpFrame({
                op: ARP_REPLY,
                senderMac: GUEST_MAC,
                senderIp: GUEST_IP,
                targetMac: PEER_MAC,
                targetIp: PEER_IP,
              }),
            );
          }
        }
      }
      return out;
    };
    const fine = trace(1000);
    expect(fine.length).toBe(3);
    expect(trace(250_000)).toEqual(fine);
  });
});
