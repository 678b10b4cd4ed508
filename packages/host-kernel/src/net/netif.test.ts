import { describe, expect, it } from "vitest";
import { BridgeRegistry } from "../dev/bridge-registry.ts";
import {
  decodeEthernet,
  decodeIcmpEcho,
  decodeIpv4,
  encodeEthernet,
  encodeIcmpEcho,
  encodeIpv4,
  encodeUdpFrame,
} from "../dev/net-ipv4.ts";
import { KernelOptionError } from "../errors.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { maskPrefix, type Netif, prefixMask } from "./netif.ts";

const MAC = "02:00:00:00:00:01";
const PEER = "02:00:00:00:00:09";

function withDriver(over: Partial<Netif> = {}): { k: Kernel; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const driver: Netif = {
    name: "vke0",
    mac: MAC,
    address: "10.0.0.1",
    prefixLength: 24,
    mtu: 1500,
    transmit: (f) => sent.push(f.slice()),
    ...over,
  };
  return { k: createKernel({ netifs: [driver] }), sent };
}

const udpTo = (dstMac: string, dstIp: string, corrupt = false): Uint8Array => {
  const f = encodeUdpFrame({
    srcMac: PEER,
    dstMac,
    srcIp: "10.0.0.9",
    dstIp,
    srcPort: 1000,
    dstPort: 2000,
    payload: new Uint8Array([1, 2, 3]),
  });
  if (corrupt) f[f.length - 1] = (f[f.length - 1] as number) ^ 0xff;
  return f;
};

describe("interface configuration", () => {
  it("refuses bad options with one KernelOptionError naming the interface", () => {
    const bad: [Partial<Netif>, RegExp][] = [
      [{ name: "" }, /netif "": name must be/],
      [{ name: "a name with spaces" }, /name must be/],
      [{ mtu: 67 }, /mtu 67 is not 68..1500/],
      [{ mtu: 1501 }, /mtu 1501/],
      [{ prefixLength: 33 }, /prefix length 33/],
      [{ mac: "01:00:5e:00:00:01" }, /is a group address/],
      [{ mac: "nope" }, /invalid MAC address/],
      [{ address: "10.0.0.256" }, /invalid IPv4 address/],
    ];
    for (const [over, message] of bad) {
      expect(() => withDriver(over)).toThrow(KernelOptionError);
      expect(() => withDriver(over)).toThrow(message);
    }
    const twice: Netif = {
      name: "a",
      mac: MAC,
      address: "10.0.0.1",
      prefixLength: 8,
      mtu: 1500,
      transmit() {},
    };
    expect(() => createKernel({ netifs: [twice, twice] })).toThrow(/netif "a": name is already taken/);
    expect(() =>
      createKernel({
        network: {
          bridges: new BridgeRegistry(),
          interfaces: [{ name: "eth0", bridge: "nope", address: "10.0.0.1", prefixLength: 24 }],
        },
      }),
    ).toThrow(/network.interfaces "eth0": no bridge "nope"/);
  });

  it("converts masks and prefixes", () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(maskPrefix(0xffff0000)).toBe(16);
    expect(maskPrefix(0)).toBe(0);
    expect(maskPrefix(0xff00ff00)).toBe(-1);
  });
});

describe("interface input", () => {
  it("counts what is not for it as dropped: other MACs and addresses, bad checksums, non-IP, runts, while down", () => {
    const { k } = withDriver();
    const n = k.net.netifs[0]!;
    k.netifReceive(0, udpTo("02:00:00:00:00:77", "10.0.0.1"));
    k.netifReceive(0, udpTo(MAC, "10.0.0.2"));
    k.netifReceive(0, udpTo(MAC, "10.0.0.1", true));
    k.netifReceive(
      0,
      encodeEthernet({ dst: MAC, src: PEER, ethertype: 0x86dd, payload: new Uint8Array(40) }),
    );
    k.netifReceive(0, new Uint8Array(10));
    expect(n.stats).toMatchObject({ rxFrames: 5, rxDropped: 5, udpNoPort: 0 });
    expect(n.endpoint.stats.malformed).toBe(1);
    k.netifReceive(0, udpTo(MAC, "10.0.0.1"));
    expect(n.stats).toMatchObject({ rxFrames: 6, rxDropped: 5, udpNoPort: 1 });
    n.up = false;
    k.netifReceive(0, udpTo(MAC, "10.0.0.1"));
    expect(n.stats).toMatchObject({ rxFrames: 7, rxDropped: 6, udpNoPort: 1 });
  });

  it("answers ping for its address", () => {
    const { k, sent } = withDriver();
    const echo = encodeIcmpEcho({ type: 8, id: 7, seq: 1, data: new Uint8Array([9, 9]) });
    const ip = encodeIpv4({ src: "10.0.0.9", dst: "10.0.0.1", protocol: 1, payload: echo });
    k.netifReceive(0, encodeEthernet({ dst: MAC, src: PEER, ethertype: 0x0800, payload: ip }));
    expect(sent).toHaveLength(1);
    const reply = decodeIcmpEcho(decodeIpv4(decodeEthernet(sent[0]!).payload).payload);
    expect(reply).toMatchObject({ type: 0, id: 7, seq: 1 });
    expect(k.net.netifs[0]!.stats).toMatchObject({ rxDropped: 0, txFrames: 1 });
  });
});
