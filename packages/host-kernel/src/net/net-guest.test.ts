import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BridgeRegistry } from "../dev/bridge-registry.ts";
import { decodeArpFrame, decodeUdpFrame, encodeArpFrame, encodeUdpFrame } from "../dev/net-ipv4.ts";
import { NetPeer } from "../dev/net-peer.ts";
import { UdpUplink } from "../dev/udp-uplink.ts";
import { createKernel, type Kernel, type KernelOptions } from "../kernel.ts";
import type { Netif } from "./netif.ts";

/** udpecho and udpping (guest/bin) on host kernels: loopback, a scripted peer, a real client. */
const GUEST = join(import.meta.dirname, "..", "..", "guest");
const elf = (name: string) => readFileSync(join(GUEST, "bin", `${name}.elf`));
const expected = (name: string) => readFileSync(join(GUEST, "expected", "net", name), "utf8");

function boot(options: KernelOptions): { k: Kernel; out: () => string } {
  const chunks: Uint8Array[] = [];
  const k = createKernel({ ...options, console: { write: (b) => chunks.push(b.slice()) } });
  return { k, out: () => Buffer.concat(chunks).toString("utf8").replaceAll("\r\n", "\n") };
}

function spawn(k: Kernel, program: string, ...args: string[]): number {
  return k.spawn({ path: `/bin/${program}`, elf: elf(program), argv: [program, ...args] });
}

/** The lines of the combined console output that one program printed. */
function linesOf(out: string, prefixes: readonly string[]): string {
  return out
    .split("\n")
    .filter((l) => prefixes.some((p) => l.startsWith(p)))
    .map((l) => `${l}\n`)
    .join("");
}
const ECHO_LINES = ["udpecho:", "echo "];
const PING_LINES = ["udpping:", "reply ", "timeout "];

function hostNetwork(): { bridges: BridgeRegistry; options: KernelOptions } {
  const bridges = new BridgeRegistry();
  bridges.create("br0");
  return {
    bridges,
    options: {
      network: {
        bridges,
        interfaces: [{ name: "eth0", bridge: "br0", address: "10.0.0.1", prefixLength: 24 }],
      },
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("udpecho and udpping in one host kernel", () => {
  for (const [dest, file] of [
    ["127.0.0.1", "loopback"],
    ["10.0.0.1", "own-address"],
  ] as const) {
    it(`answer each other through ${dest} with the expected output`, async () => {
      const { k, out } = boot(hostNetwork().options);
      spawn(k, "udpecho", "7007", "3");
      const ping = spawn(k, "udpping", dest, "7007", "3");
      const result = await k.run({ maxInstructions: 200_000_000 });
      expect(result.reason).toBe("exited");
      expect(result.exitStatus).toBe(0);
      expect(k.procs.get(ping)?.exitStatus).toBe(0);
      expect(linesOf(out(), ECHO_LINES)).toBe(expected(`udpecho-${file}.txt`));
      expect(linesOf(out(), PING_LINES)).toBe(expected(`udpping-${file}.txt`));
    });
  }

  it("is deterministic: two runs give the same output and digest", async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { k, out } = boot({ ...hostNetwork().options, cpus: 2, seed: 5 });
      spawn(k, "udpecho", "7007", "3");
      spawn(k, "udpping", "10.0.0.1", "7007", "3");
      const r = await k.run({ maxInstructions: 200_000_000 });
      runs.push({ out: out(), digest: r.digest, time: r.time });
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it("a discarded kernel's interfaces can be unplugged so a new kernel takes their ports", () => {
    const { options } = hostNetwork();
    const first = createKernel(options);
    expect(() => createKernel(options)).toThrow(
      /network.interfaces "eth0": bridge br0: port eth0 is already attached/,
    );
    first.net.detachAll();
    expect(createKernel(options).net.netifs.map((n) => n.name)).toEqual(["eth0"]);
  });

  it("udpping reports timeouts and exits 1 when nobody answers", async () => {
    const { k, out } = boot(hostNetwork().options);
    spawn(k, "udpping", "10.0.0.9", "7", "2", "5");
    const result = await k.run({ maxInstructions: 200_000_000 });
    expect(result.exitStatus).toBe(1);
    expect(out()).toBe("udpping: 2 datagrams to 10.0.0.9:7\ntimeout 1\ntimeout 2\nudpping: 0/2 replies\n");
  });
});

describe("udpecho on the wire", () => {
  it("answers a scripted peer on the bridge (ARP both ways, then UDP)", async () => {
    const { bridges, options } = hostNetwork();
    const peer = new NetPeer(
      "peer0",
      [
        "mac 02:00:00:00:00:fe",
        "ip 10.0.0.2",
        'at 1ms send 10.0.0.1:7 from 9000 "hello"',
        "at 2ms send 10.0.0.1:7 from 9000 hex:00ff41",
        'at 3ms send 10.0.0.1:7 from 9001 "a datagram longer than thirty-two bytes"',
      ].join("\n"),
    );
    peer.attachTo(bridges.get("br0")!);
    const { k, out } = boot(options);
    spawn(k, "udpecho", "7", "3");
    const result = await k.run({ maxInstructions: 200_000_000 });
    expect(result.exitStatus).toBe(0);
    expect(out()).toBe(expected("udpecho-peer.txt"));
    expect(
      peer.received.map((d) => [d.srcIp, d.srcPort, d.dstPort, Buffer.from(d.payload).toString("latin1")]),
    ).toEqual([
      ["10.0.0.1", 7, 9000, "hello"],
      ["10.0.0.1", 7, 9000, "\x00\xffA"],
      ["10.0.0.1", 7, 9001, "a datagram longer than thirty-two bytes"],
    ]);
    const eth0 = k.net.netifs[0]!;
    expect(eth0.endpoint.stats.arpRequestsAnswered).toBe(1);
    expect(eth0.endpoint.lookupArp("10.0.0.2")).toBe("02:00:00:00:00:fe");
    expect(eth0.stats).toMatchObject({ udpNoPort: 0, udpQueueFull: 0, txFrames: 4 });
  });

  it("udpping gets its echoes from a scripted peer (its first datagram waits for ARP)", async () => {
    const { bridges, options } = hostNetwork();
    const peer = new NetPeer("peer0", "mac 02:00:00:00:00:fe\nip 10.0.0.2\necho 7");
    peer.attachTo(bridges.get("br0")!);
    const { k, out } = boot(options);
    spawn(k, "udpping", "10.0.0.2", "7", "3");
    const result = await k.run({ maxInstructions: 200_000_000 });
    expect(result.exitStatus).toBe(0);
    expect(out()).toBe(expected("udpping-loopback.txt").replace("127.0.0.1:7007", "10.0.0.2:7"));
    expect(peer.echoed).toBe(3);
    expect(k.net.netifs[0]!.endpoint.stats.arpRequestsSent).toBe(1);
  });

  it("answers a real UDP client on loopback through the UDP uplink", async () => {
    const { bridges, options } = hostNetwork();
    const uplink = await UdpUplink.open({ ip: "10.0.0.254", guestIp: "10.0.0.1", guestPort: 7 });
    cleanups.push(() => uplink.close());
    uplink.attachTo(bridges.get("br0")!);
    const client = createSocket("udp4");
    cleanups.push(() => new Promise<void>((resolve) => client.close(() => resolve())));
    const got: string[] = [];
    client.on("message", (m) => got.push(m.toString()));
    await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));

    const { k, out } = boot(options);
    spawn(k, "udpecho", "7", "3");
    const running = k.run({ maxInstructions: 500_000_000 });
    const { port } = uplink.address();
    for (const word of ["one", "two", "three"]) {
      client.send(word, port, "127.0.0.1");
      const before = got.length;
      const deadline = Date.now() + 5000;
      while (got.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    const result = await running;
    expect(result.exitStatus).toBe(0);
    expect(got).toEqual(["one", "two", "three"]);
    expect(out()).toBe(
      [
        "udpecho: listening on port 7",
        'echo 1: 3 bytes from 10.0.0.254: "one"',
        'echo 2: 3 bytes from 10.0.0.254: "two"',
        'echo 3: 5 bytes from 10.0.0.254: "three"',
        "udpecho: done",
        "",
      ].join("\n"),
    );
  }, 20_000);
});

describe("a netif with the caller's own driver (KernelOptions.netifs, as the vkernel's vke)", () => {
  it("transmits through the driver and takes frames from kernel.netifReceive", () => {
    const sent: Uint8Array[] = [];
    const driver: Netif = {
      name: "vke0",
      mac: "02:00:00:00:00:01",
      address: "10.1.0.1",
      prefixLength: 16,
      mtu: 1500,
      transmit: (frame) => sent.push(frame.slice()),
    };
    const { k, out } = boot({ netifs: [driver] });
    spawn(k, "udpecho", "5000", "1");
    expect(k.runSync({ maxInstructions: 50_000_000 }).reason).toBe("deadlock");
    const peerMac = "02:00:00:00:00:99";
    // The peer asks who has 10.1.0.1, then sends a datagram.
    k.netifReceive(
      0,
      encodeArpFrame({
        op: 1,
        senderMac: peerMac,
        senderIp: "10.1.0.9",
        targetMac: "00:00:00:00:00:00",
        targetIp: "10.1.0.1",
      }),
    );
    const arp = decodeArpFrame(sent.shift()!);
    expect(arp).toMatchObject({
      op: 2,
      senderMac: "02:00:00:00:00:01",
      senderIp: "10.1.0.1",
      targetIp: "10.1.0.9",
    });
    k.netifReceive(
      0,
      encodeUdpFrame({
        srcMac: peerMac,
        dstMac: "02:00:00:00:00:01",
        srcIp: "10.1.0.9",
        dstIp: "10.1.0.1",
        srcPort: 4444,
        dstPort: 5000,
        payload: new TextEncoder().encode("hi"),
      }),
    );
    expect(k.runSync({ maxInstructions: 50_000_000 }).reason).toBe("exited");
    const echo = decodeUdpFrame(sent.shift()!);
    expect(echo).toMatchObject({
      dstMac: peerMac,
      srcIp: "10.1.0.1",
      dstIp: "10.1.0.9",
      srcPort: 5000,
      dstPort: 4444,
    });
    expect(new TextDecoder().decode(echo.payload)).toBe("hi");
    expect(out()).toContain('echo 1: 2 bytes from 10.1.0.9: "hi"');
    expect(() => k.netifReceive(3, new Uint8Array(14))).toThrow(/no interface 3/);
  });
});
