import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { type Bridge, guestProgramPath, UdpUplink } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { addPeer, bootNetHost, consoleText } from "./vke-test-support.ts";

const expected = (name: string): string =>
  readFileSync(guestProgramPath("udpecho").replace(/bin\/udpecho\.elf$/, `expected/net/${name}`), "utf8");

describe("vke: the vkernel's network interface over a host tap", () => {
  for (const vcpus of [1, 2]) {
    it(`udpecho in a vkernel (${vcpus} vCPU) answers a scripted peer on the host bridge`, async () => {
      const host = bootNetHost([
        {
          guests: [{ program: "udpecho", args: ["7", "3"] }],
          config: { vcpus, taps: [{ device: "/dev/tap0", address: "10.0.0.1/24" }] },
        },
      ]);
      const peer = addPeer(
        host.bridges,
        "peer0",
        [
          "mac 02:00:00:00:00:fe",
          "ip 10.0.0.2",
          'at 1ms send 10.0.0.1:7 from 9000 "hello"',
          "at 2ms send 10.0.0.1:7 from 9000 hex:00ff41",
          'at 3ms send 10.0.0.1:7 from 9001 "a datagram longer than thirty-two bytes"',
        ].join("\n"),
      );
      const r = await host.kernel.run({ maxInstructions: 400_000_000 });
      expect(consoleText(host.chunks)).toBe(expected("udpecho-peer.txt"));
      expect(r.exitStatus).toBe(0);
      expect(peer.received.map((d) => [d.srcIp, d.srcPort, d.dstPort])).toEqual([
        ["10.0.0.1", 7, 9000],
        ["10.0.0.1", 7, 9000],
        ["10.0.0.1", 7, 9001],
      ]);
    });
  }

  it("udpecho in one vkernel answers udpping in another vkernel on the same bridge", async () => {
    const host = bootNetHost([
      {
        guests: [{ program: "udpecho", args: ["7007", "3"] }],
        config: { taps: [{ device: "/dev/tap0", address: "10.0.0.1/24" }] },
      },
      {
        guests: [{ program: "udpping", args: ["10.0.0.1", "7007", "3"] }],
        config: { taps: [{ device: "/dev/tap1", address: "10.0.0.2/24" }] },
      },
    ]);
    const r = await host.kernel.run({ maxInstructions: 800_000_000 });
    const out = consoleText(host.chunks);
    expect(lines(out, ["udpecho:", "echo "])).toBe(
      expected("udpecho-loopback.txt").replaceAll("127.0.0.1", "10.0.0.2"),
    );
    expect(lines(out, ["udpping:", "reply ", "timeout "])).toBe(
      expected("udpping-loopback.txt").replaceAll("127.0.0.1", "10.0.0.1"),
    );
    expect(r.reason).toBe("exited");
    expect(host.pids.map((p) => host.kernel.procs.get(p)?.exitStatus)).toEqual([0, 0]);
  });

  it("udpecho in a vkernel answers a real UDP client on loopback through the host UdpUplink", async () => {
    const host = bootNetHost([
      {
        guests: [{ program: "udpecho", args: ["7", "3"] }],
        config: { taps: [{ device: "/dev/tap0", address: "10.0.0.1/24" }] },
      },
    ]);
    const uplink = await UdpUplink.open({ ip: "10.0.0.254", guestIp: "10.0.0.1", guestPort: 7 });
    const client = createSocket("udp4");
    try {
      uplink.attachTo(host.bridges.get("br0") as Bridge);
      const got: string[] = [];
      client.on("message", (m) => got.push(m.toString()));
      await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
      const running = host.kernel.run({ maxInstructions: 800_000_000 });
      const { port } = uplink.address();
      for (const word of ["one", "two", "three"]) {
        client.send(word, port, "127.0.0.1");
        const before = got.length;
        const deadline = Date.now() + 5000;
        while (got.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      const r = await running;
      expect(got).toEqual(["one", "two", "three"]);
      expect(r.exitStatus).toBe(0);
      expect(consoleText(host.chunks)).toContain('echo 3: 5 bytes from 10.0.0.254: "three"');
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
      await uplink.close();
    }
  }, 20_000);
});

const lines = (out: string, prefixes: readonly string[]): string =>
  out
    .split("\n")
    .filter((l) => prefixes.some((p) => l.startsWith(p)))
    .map((l) => `${l}\n`)
    .join("");
