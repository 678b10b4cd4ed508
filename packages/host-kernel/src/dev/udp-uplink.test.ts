import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { O_NONBLOCK, O_RDWR } from "../fs/file-types.ts";
import { BridgeRegistry } from "./bridge-registry.ts";
import { UdpUplinkError } from "./net-errors.ts";
import { decodeUdpFrame, encodeUdpFrame } from "./net-ipv4.ts";
import { NetPeer } from "./net-peer.ts";
import { FakeCaller, FakeHost, readVia } from "./net-test-support.ts";
import { TapDevices } from "./tap-devices.ts";
import { isTapFile } from "./tap-file.ts";
import { UdpUplink } from "./udp-uplink.ts";

const GUEST_IP = "10.0.0.1";
const UPLINK_IP = "10.0.0.254";
const text = (s: string) => new TextEncoder().encode(s);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real UDP client on loopback that records what it receives. */
async function client(): Promise<{ socket: Socket; got: string[]; port: number }> {
  const socket = createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (msg) => got.push(msg.toString()));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { socket, got, port: socket.address().port };
}

/**
 * Drive the network the way the kernel's run loop does when only live input can make progress:
 * wait for the socket, then advance virtual time and poll. Bounded to 5 s of wall clock.
 */
async function pump(bridges: BridgeRegistry, host: FakeHost, done: () => boolean, step?: () => void) {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for loopback datagrams");
    await Promise.race([bridges.waitForLiveInput(), new Promise((resolve) => setTimeout(resolve, 10))]);
    host.time += 1000;
    bridges.poll(host.time);
    step?.();
  }
}

async function uplinkOn(bridges: BridgeRegistry, extra: { guestMac?: string } = {}) {
  const uplink = await UdpUplink.open({ ip: UPLINK_IP, guestIp: GUEST_IP, guestPort: 7, ...extra });
  cleanups.push(() => uplink.close());
  const bridge = bridges.get("br0") ?? bridges.create("br0");
  uplink.attachTo(bridge);
  return uplink;
}

describe("UDP uplink on loopback", () => {
  it("carries real datagrams to an echoing peer and the echoes back to the client", async () => {
    const bridges = new BridgeRegistry();
    const host = new FakeHost();
    const uplink = await uplinkOn(bridges);
    const peer = new NetPeer("guest", `mac 02:00:00:00:00:01\nip ${GUEST_IP}\necho 7`);
    peer.attachTo(bridges.get("br0")!);
    expect(bridges.hasLivePorts()).toBe(true);

    const c = await client();
    const { port } = uplink.address();
    for (const word of ["one", "two", "three"]) c.socket.send(word, port, "127.0.0.1");
    await pump(bridges, host, () => c.got.length === 3);

    expect(c.got).toEqual(["one", "two", "three"]);
    expect(peer.received.map((d) => [d.srcIp, d.srcPort, d.dstPort])).toEqual([
      [UPLINK_IP, c.port, 7],
      [UPLINK_IP, c.port, 7],
      [UPLINK_IP, c.port, 7],
    ]);
    expect(uplink.endpoint.stats.arpRequestsSent).toBe(1); // resolved the guest once
    expect(uplink.stats).toMatchObject({ fromClients: 3, toClients: 3, toClientsDropped: 0 });
  });

  it("close lets the datagrams already handed to the socket go out first", async () => {
    const bridges = new BridgeRegistry();
    const host = new FakeHost();
    const uplink = await uplinkOn(bridges);
    const peer = new NetPeer("guest", `mac 02:00:00:00:00:01\nip ${GUEST_IP}\necho 7`);
    peer.attachTo(bridges.get("br0")!);
    const c = await client();
    c.socket.send("last", uplink.address().port, "127.0.0.1");
    // The echo leaves the bridge in the same poll that delivers "last" to the peer; close at once,
    // as `vkc run` does when the guest exits right after its final reply.
    await pump(bridges, host, () => peer.received.length === 1);
    await uplink.close();
    const deadline = Date.now() + 5000;
    while (c.got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(c.got).toEqual(["last"]);
  });

  it("delivers to a tap-attached guest, routes its reply to the right client, and drops strays", async () => {
    const bridges = new BridgeRegistry();
    bridges.create("br0");
    const host = new FakeHost();
    const tap = new TapDevices(bridges).open(0, host);
    if (typeof tap === "number" || !isTapFile(tap)) throw new Error("open failed");
    tap.device.setUp(true);
    tap.device.setBridge("br0");
    cleanups.push(() => tap.close({ flags: 0, offset: 0 }));
    const guestMac = tap.device.config.mac;
    const uplink = await uplinkOn(bridges, { guestMac });

    const a = await client();
    const b = await client();
    const file = { flags: O_RDWR | O_NONBLOCK, offset: 0 };
    const caller = new FakeCaller();
    const seen: string[] = [];
    // The "guest" answers every datagram with "re:" + payload, and once to a port nobody has.
    const guest = () => {
      for (let r = readVia(tap, file, 1514, caller); typeof r.result === "number" && r.result > 0; ) {
        const d = decodeUdpFrame(r.bytes);
        const payload = new TextDecoder().decode(d.payload);
        seen.push(`${d.dstIp}:${d.dstPort} ${payload}`);
        const reply = { srcMac: guestMac, dstMac: d.srcMac, srcIp: GUEST_IP, dstIp: d.srcIp, srcPort: 7 };
        tap.write(
          file,
          encodeUdpFrame({ ...reply, dstPort: d.srcPort, payload: text(`re:${payload}`) }),
          caller,
        );
        if (payload === "from-a")
          tap.write(file, encodeUdpFrame({ ...reply, dstPort: 1, payload: text("x") }), caller);
        r = readVia(tap, file, 1514, caller);
      }
    };
    const { port } = uplink.address();
    a.socket.send("from-a", port, "127.0.0.1");
    b.socket.send("from-b", port, "127.0.0.1");
    await pump(bridges, host, () => a.got.length + b.got.length === 2, guest);

    expect(a.got).toEqual(["re:from-a"]);
    expect(b.got).toEqual(["re:from-b"]);
    expect(seen.sort()).toEqual([`${GUEST_IP}:7 from-a`, `${GUEST_IP}:7 from-b`]);
    expect(
      uplink
        .clients()
        .map((c) => c.port)
        .sort(),
    ).toEqual([a.port, b.port].sort());
    expect(uplink.stats.toClientsDropped).toBe(1);
    expect(uplink.endpoint.stats.arpRequestsSent).toBe(0); // static guest MAC
  });

  it("drops datagrams too large for one frame, and stops waiting once closed", async () => {
    const bridges = new BridgeRegistry();
    const uplink = await uplinkOn(bridges);
    const c = await client();
    const { port } = uplink.address();
    c.socket.send(Buffer.alloc(1473), port, "127.0.0.1");
    c.socket.send(Buffer.alloc(1472), port, "127.0.0.1");
    const deadline = Date.now() + 5000;
    while (uplink.pending + uplink.stats.fromClientsDropped < 2 && Date.now() < deadline) {
      await Promise.race([uplink.whenInput(), new Promise((resolve) => setTimeout(resolve, 10))]);
    }
    expect([uplink.pending, uplink.stats.fromClientsDropped]).toEqual([1, 1]);
    expect(bridges.nextEventTime()).toBe(0);
    await uplink.close();
    await expect(uplink.whenInput()).resolves.toBeUndefined();
    expect(bridges.hasLivePorts()).toBe(false);
  });

  it("binds loopback only", async () => {
    await expect(
      UdpUplink.open({ ip: UPLINK_IP, guestIp: GUEST_IP, guestPort: 7, bindAddress: "0.0.0.0" }),
    ).rejects.toThrow(UdpUplinkError);
    const first = await UdpUplink.open({ ip: UPLINK_IP, guestIp: GUEST_IP, guestPort: 7 });
    cleanups.push(() => first.close());
    await expect(
      UdpUplink.open({ ip: UPLINK_IP, guestIp: GUEST_IP, guestPort: 7, port: first.address().port }),
    ).rejects.toThrow(/cannot bind/);
  });

  it("reopens from a snapshot with its clients and ARP state", async () => {
    const bridges = new BridgeRegistry();
    const host = new FakeHost();
    const uplink = await uplinkOn(bridges);
    const peer = new NetPeer("guest", `mac 02:00:00:00:00:01\nip ${GUEST_IP}\necho 7`);
    peer.attachTo(bridges.get("br0")!);
    const c = await client();
    c.socket.send("before", uplink.address().port, "127.0.0.1");
    await pump(bridges, host, () => c.got.length === 1);

    const saved = structuredClone(uplink.snapshot());
    await uplink.close();
    const again = await UdpUplink.open(
      { ip: UPLINK_IP, guestIp: GUEST_IP, guestPort: 7, port: saved.port },
      saved,
    );
    cleanups.push(() => again.close());
    again.attachTo(bridges.get("br0")!);
    expect(again.snapshot()).toEqual(saved);
    c.socket.send("after", again.address().port, "127.0.0.1");
    await pump(bridges, host, () => c.got.length === 2);
    expect(c.got).toEqual(["before", "after"]);
    expect(again.endpoint.stats.arpRequestsSent).toBe(1); // the guest's MAC was remembered
  });
});
