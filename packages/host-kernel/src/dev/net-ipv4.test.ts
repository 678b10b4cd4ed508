import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NetAddressError, NetDecodeError } from "./net-errors.ts";
import { formatMac, frameProblem, normalizeMac, parseMac } from "./net-frame.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  decodeArpFrame,
  decodeIcmpEcho,
  decodeIpv4,
  decodeUdp,
  decodeUdpFrame,
  encodeArpFrame,
  encodeIcmpEcho,
  encodeIpv4,
  encodeUdp,
  encodeUdpFrame,
  formatIpv4Address,
  ICMP_ECHO_REQUEST,
  IPPROTO_UDP,
  internetChecksum,
  parseIpv4Address,
} from "./net-ipv4.ts";

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("Internet checksum", () => {
  it("matches the RFC 1071 worked example", () => {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded); the checksum is its complement.
    expect(internetChecksum(hex("0001 f203 f4f5 f6f7"))).toBe(0xffff - 0xddf2);
  });

  it("gives the known header checksum of a real IPv4 header", () => {
    const header = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    expect(internetChecksum(header)).toBe(0); // correct header sums to zero
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header)).toBe(0xb861);
  });

  it("encodes that same IPv4 header byte for byte", () => {
    const packet = encodeIpv4({
      src: "192.168.0.1",
      dst: "192.168.0.199",
      protocol: IPPROTO_UDP,
      payload: new Uint8Array(0x73 - 20),
    });
    expect(Buffer.from(packet.subarray(0, 20)).toString("hex")).toBe(
      "45000073000040004011b861c0a80001c0a800c7",
    );
  });

  it("gives the textbook UDP checksum 0x14de", () => {
    // 152.1.51.27:41103 → 152.14.94.75:9876, payload "bb" (a classic worked example).
    const udp = encodeUdp(
      { srcPort: 0xa08f, dstPort: 0x2694, payload: hex("6262") },
      "152.1.51.27",
      "152.14.94.75",
    );
    expect(Buffer.from(udp).toString("hex")).toBe("a08f2694000a14de6262");
    expect(decodeUdp(udp, "152.1.51.27", "152.14.94.75").payload).toEqual(hex("6262"));
  });
});

describe("ICMP echo", () => {
  it("gives the known checksum of a Windows ping (id 1, seq 1, 32 bytes of a..w)", () => {
    const data = new TextEncoder().encode("abcdefghijklmnopqrstuvwabcdefghi");
    const bytes = encodeIcmpEcho({ type: ICMP_ECHO_REQUEST, id: 1, seq: 1, data });
    expect(Buffer.from(bytes.subarray(0, 8)).toString("hex")).toBe("08004d5a00010001");
    expect(decodeIcmpEcho(bytes)).toEqual({ type: ICMP_ECHO_REQUEST, id: 1, seq: 1, data });
    bytes[9] = 0;
    expect(() => decodeIcmpEcho(bytes)).toThrow(/bad checksum/);
    const unreachable = Uint8Array.of(3, 1, 0, 0, 0, 0, 0, 0);
    unreachable[2] = 0xfc;
    unreachable[3] = 0xfe;
    expect(() => decodeIcmpEcho(unreachable)).toThrow(/not an echo/);
  });
});

describe("addresses", () => {
  it("parses and formats MAC and IPv4 text", () => {
    expect(formatMac(parseMac("02:AB:00:00:00:0f"))).toBe("02:ab:00:00:00:0f");
    expect(normalizeMac("FF:ff:FF:ff:FF:ff")).toBe("ff:ff:ff:ff:ff:ff");
    expect(parseIpv4Address("10.0.0.2")).toBe(0x0a000002);
    expect(formatIpv4Address(0xc0a800c7)).toBe("192.168.0.199");
    for (const bad of ["02:00:00:00:00", "zz:00:00:00:00:00", "020000000001"]) {
      expect(() => parseMac(bad)).toThrow(NetAddressError);
    }
    for (const bad of ["10.0.0", "10.0.0.256", "a.b.c.d", "1.2.3.4.5"]) {
      expect(() => parseIpv4Address(bad)).toThrow(NetAddressError);
    }
  });
});

describe("frames", () => {
  const udpFrame = {
    srcMac: "02:00:00:00:00:01",
    dstMac: "02:00:00:00:00:02",
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    srcPort: 5000,
    dstPort: 7,
    payload: new TextEncoder().encode("hello"),
  };

  it("round-trips a UDP frame and verifies it", () => {
    const bytes = encodeUdpFrame({ ...udpFrame, id: 9, ttl: 3 });
    expect(bytes.length).toBe(14 + 20 + 8 + 5);
    expect(frameProblem(bytes)).toBeUndefined();
    expect(decodeUdpFrame(bytes)).toEqual({ ...udpFrame, id: 9, ttl: 3 });
  });

  it("ignores Ethernet padding after the IPv4 total length", () => {
    const bytes = encodeUdpFrame(udpFrame);
    const padded = new Uint8Array(60);
    padded.set(bytes);
    expect(decodeUdpFrame(padded).payload).toEqual(udpFrame.payload);
  });

  it("rejects a corrupted header, payload, length or fragment", () => {
    const bytes = encodeUdpFrame(udpFrame);
    const corrupt = (at: number, value: number) => {
      const copy = bytes.slice();
      copy[at] = value;
      return copy;
    };
    expect(() => decodeUdpFrame(corrupt(14 + 8, 1))).toThrow(/bad header checksum/); // TTL
    expect(() => decodeUdpFrame(corrupt(bytes.length - 1, 0x21))).toThrow(/bad checksum/);
    expect(() => decodeUdpFrame(corrupt(14, 0x65))).toThrow(/version 6/);
    expect(() => decodeUdpFrame(bytes.subarray(0, 40))).toThrow(NetDecodeError);
    const fragment = encodeIpv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 17, payload: new Uint8Array(8) });
    fragment[6] = 0x20; // MF
    fragment[10] = 0;
    fragment[11] = 0;
    const sum = internetChecksum(fragment, 0, 20);
    fragment[10] = sum >> 8;
    fragment[11] = sum & 0xff;
    expect(() => decodeIpv4(fragment)).toThrow(/fragments/);
  });

  it("accepts a UDP datagram sent without a checksum", () => {
    const udp = encodeUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.of(9) }, "1.1.1.1", "2.2.2.2");
    udp[6] = 0;
    udp[7] = 0;
    expect(decodeUdp(udp, "1.1.1.1", "2.2.2.2").payload).toEqual(Uint8Array.of(9));
  });

  it("encodes ARP requests as broadcast and replies as unicast", () => {
    const request = {
      op: ARP_REQUEST,
      senderMac: "02:00:00:00:00:01",
      senderIp: "10.0.0.1",
      targetMac: "00:00:00:00:00:00",
      targetIp: "10.0.0.2",
    };
    const frame = encodeArpFrame(request);
    expect(frame.length).toBe(42);
    expect(Buffer.from(frame.subarray(0, 22)).toString("hex")).toBe(
      "ffffffffffff02000000000108060001080006040001",
    );
    expect(decodeArpFrame(frame)).toEqual(request);
    const reply = encodeArpFrame({ ...request, op: ARP_REPLY, targetMac: "02:00:00:00:00:09" });
    expect(formatMac(reply, 0)).toBe("02:00:00:00:00:09");
    expect(() => decodeArpFrame(encodeUdpFrame(udpFrame))).toThrow(NetDecodeError);
  });

  it("round-trips any UDP frame and detects any single flipped payload bit", () => {
    const mac = fc
      .uint8Array({ minLength: 6, maxLength: 6 })
      .map((b) => formatMac(Uint8Array.of(b[0]! & 0xfe, ...b.subarray(1))));
    const ip = fc.integer({ min: 0, max: 0xffffffff }).map(formatIpv4Address);
    const port = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        mac,
        mac,
        ip,
        ip,
        port,
        port,
        fc.uint8Array({ maxLength: 1472 }),
        fc.nat(),
        (srcMac, dstMac, srcIp, dstIp, srcPort, dstPort, payload, flip) => {
          const f = { srcMac, dstMac, srcIp, dstIp, srcPort, dstPort, payload };
          const bytes = encodeUdpFrame(f);
          expect(frameProblem(bytes)).toBeUndefined();
          expect(decodeUdpFrame(bytes)).toMatchObject(f);
          if (payload.length > 0) {
            const copy = bytes.slice();
            const bit = flip % (payload.length * 8);
            copy[42 + (bit >> 3)] = (copy[42 + (bit >> 3)] as number) ^ (1 << (bit & 7));
            expect(() => decodeUdpFrame(copy)).toThrow(NetDecodeError);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
