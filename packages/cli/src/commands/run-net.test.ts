import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { netOption } from "./net-options.ts";
import { readRunNetwork, runNetworkSection } from "./run-network.ts";

const guest = (name: string) => join(import.meta.dirname, "../../../host-kernel/guest/bin", `${name}.elf`);
const tmp = () => mkdtempSync(join(tmpdir(), "vkc-run-net-"));

/** A UDP port on loopback that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Talk to an echo server behind `--udp-bridge` as `nc -u` would: send "ping 1" until the first
 * reply (the first datagrams may precede its bind), then "ping 2", "ping 3", … one per reply, until
 * the server has echoed `count` datagrams and ended; resolves the replies, in order.
 */
async function echoClient(port: number, count: number, done: Promise<number>): Promise<string[]> {
  const client: Socket = createSocket("udp4");
  const replies: string[] = [];
  client.on("message", (msg) => replies.push(msg.toString()));
  let ended = false;
  void done.finally(() => {
    ended = true;
  });
  try {
    for (let i = 0; replies.length === 0 && !ended && i < 400; i++) {
      client.send("ping 1", port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let n = 2; n <= count && !ended; n++) {
      client.send(`ping ${n}`, port, "127.0.0.1");
      for (let i = 0; replies.length < n && !ended && i < 400; i++)
        await new Promise((r) => setTimeout(r, 10));
    }
    await done;
    // The last echo leaves as the uplink closes: give loopback a moment to hand it over.
    for (let i = 0; replies.length < count && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
    return replies;
  } finally {
    client.close();
  }
}

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("vkc run --net / --udp-bridge", () => {
  test("--net BRIDGE:ADDR/PREFIX repeats as eth0, eth1, …; bad values are one usage line", async () => {
    expect(netOption("br1:192.168.7.2/16", netOption("br0:10.0.0.1"))).toEqual([
      { name: "eth0", bridge: "br0", address: "10.0.0.1", prefixLength: 24 },
      { name: "eth1", bridge: "br1", address: "192.168.7.2", prefixLength: 16 },
    ]);
    for (const bad of ["10.0.0.1/24", "br0:10.0.0.256/24", "br0:10.0.0.1/31", "br0:"])
      expect(() => netOption(bad)).toThrow(/--net takes/);
    expect(() => netOption("br1:10.0.0.1", netOption("br0:10.0.0.1"))).toThrow(/given twice/);
    const cases: [string[], RegExp][] = [
      [["run", "--net", "eth0", guest("hello")], /--net takes BRIDGE:ADDR\/PREFIX/],
      [["run", "--udp-bridge", "127.0.0.1:7007", guest("hello")], /--udp-bridge needs a --net/],
      [["run", "--net", "br0:10.0.0.1/24", "--udp-bridge", "8.8.8.8:53", guest("hello")], /loopback/],
    ];
    for (const [argv, message] of cases) {
      const io = captureIO();
      expect(await main(argv, io), argv.join(" ")).toBe(2);
      expect(io.stderr().trimEnd().split("\n")).toHaveLength(1);
      expect(io.stderr()).toMatch(message);
    }
  });

  test("the image's vkcCli section records interfaces and uplink, and reads back the same", () => {
    const nets = netOption("br1:10.1.0.1/16", netOption("br0:10.0.0.1/24"));
    const section = runNetworkSection(nets, { host: "127.0.0.1", port: 7007 });
    expect(readRunNetwork(section)).toEqual({
      interfaces: nets,
      udpBridge: { host: "127.0.0.1", port: 7007 },
    });
    expect(runNetworkSection([], undefined)).toEqual({});
    expect(readRunNetwork({})).toEqual({ interfaces: [] });
  });

  test("udpecho on eth0 answers a real UDP client (node:dgram) through --udp-bridge", async () => {
    const port = await freeUdpPort();
    const io = captureIO();
    const argv = ["run", "--net", "br0:10.0.0.1/24", "--udp-bridge", `127.0.0.1:${port}`];
    const done = main([...argv, guest("udpecho"), String(port), "3"], io);
    const replies = await echoClient(port, 3, done);
    expect(await done, io.stderr()).toBe(0);
    expect(replies).toHaveLength(3);
    expect(replies[0]).toBe("ping 1");
    const echoed = [...io.stdout().matchAll(/^echo \d: 6 bytes from 10\.0\.0\.254: "(ping \d)"$/gm)];
    expect(echoed.map((m) => m[1])).toEqual(replies);
    expect(io.stdout()).toMatch(/udpecho: done/);
    expect(io.stderr()).toBe(`vkc: UDP bridge on 127.0.0.1:${port} → eth0 10.0.0.1/24\n`);
  });

  test("vkc restore recreates eth0 and the uplink: udpecho frozen after its bind answers after the thaw", async () => {
    const port = await freeUdpPort();
    const store = `file:${join(tmp(), "store")}`;
    const net = ["--net", "br0:10.0.0.1/24"];
    const program = [guest("udpecho"), String(port), "3"];
    // Without an uplink nobody can send: the run ends blocked in recvfrom (deadlock), after `total`.
    const alone = captureIO();
    expect(await main(["run", "--json", ...net, ...program], alone)).toBe(1);
    const total = Number(events(alone.stdout()).find((e) => e.event === "exit")?.instructions);
    expect(total).toBeGreaterThan(100);
    // The same run with the uplink, frozen just before it blocks (bound, listening).
    const first = captureIO();
    const at = ["--checkpoint-at", String(total - 10), "--exit-after-checkpoint", "--store", store];
    const bridge = ["--udp-bridge", `127.0.0.1:${port}`];
    expect(await main(["run", ...net, ...bridge, ...at, ...program], first), first.stderr()).toBe(0);
    expect(first.stdout()).toMatch(/listening on port/);
    // The image says what it needs: `images show` lists the interfaces and the uplink.
    const text = captureIO();
    expect(await main(["images", "show", "latest", "--no-regs", "--store", store], text)).toBe(0);
    expect(text.stdout()).toContain(
      `network: eth0 10.0.0.1/24 on br0; UDP bridge 127.0.0.1:${port} → eth0 (vkc restore re-creates them)\n`,
    );
    const json = captureIO();
    expect(await main(["images", "show", "latest", "--json", "--store", store], json)).toBe(0);
    expect(events(json.stdout())[0]?.network).toEqual({
      interfaces: [{ name: "eth0", bridge: "br0", address: "10.0.0.1", prefixLength: 24 }],
      udpBridge: { host: "127.0.0.1", port },
    });
    // The restore binds the same uplink port and rebuilds eth0 (name, order, MAC, MTU are checked).
    const restored = captureIO();
    const done = main(["restore", "--store", store, "latest"], restored);
    const replies = await echoClient(port, 3, done);
    expect(await done, restored.stderr()).toBe(0);
    expect(replies).toHaveLength(3);
    const echoed = [...restored.stdout().matchAll(/^echo \d: 6 bytes from 10\.0\.0\.254: "(ping \d)"$/gm)];
    expect(echoed.map((m) => m[1])).toEqual(replies);
    expect(restored.stderr()).toContain(`vkc: UDP bridge on 127.0.0.1:${port} → eth0 10.0.0.1/24\n`);

    // --udp-bridge moves the uplink to another real port; the guest still gets its own port.
    const other = await freeUdpPort();
    const moved = captureIO();
    const again = main(["restore", "--store", store, "--udp-bridge", `127.0.0.1:${other}`, "latest"], moved);
    expect(await echoClient(other, 3, again)).toHaveLength(3);
    expect(await again, moved.stderr()).toBe(0);
    expect(moved.stdout()).toMatch(/udpecho: done/);
    expect(moved.stderr()).toContain(`vkc: UDP bridge on 127.0.0.1:${other} → eth0 10.0.0.1/24\n`);
  });

  test("restore --udp-bridge moves a vkc boot image's uplink too: the vkernel's udpecho answers there", async () => {
    const [port, other] = [await freeUdpPort(), await freeUdpPort()];
    const store = `file:${join(tmp(), "store")}`;
    const tap = ["--tap", "tap0:10.0.0.2/24"];
    const guests = ["--", guest("udpecho"), String(port), "3"];
    const alone = captureIO();
    expect(await main(["boot", "--json", ...tap, ...guests], alone)).toBe(1); // blocked in recvfrom
    const total = Number(events(alone.stdout()).find((e) => e.event === "exit")?.instructions);
    const at = ["--checkpoint-at", String(total - 10), "--exit-after-checkpoint", "--store", store];
    const bridge = ["--udp-bridge", `127.0.0.1:${port}`];
    const first = captureIO();
    expect(await main(["boot", ...tap, ...bridge, ...at, ...guests], first), first.stderr()).toBe(0);
    const moved = captureIO();
    const done = main(["restore", "--store", store, "--udp-bridge", `127.0.0.1:${other}`, "latest"], moved);
    expect(await echoClient(other, 3, done)).toHaveLength(3);
    expect(await done, moved.stderr()).toBe(0);
    expect(moved.stdout()).toMatch(/udpecho: done/);
    expect(moved.stderr()).toContain(`vkc: UDP bridge on 127.0.0.1:${other} → 10.0.0.2/24\n`);
  });

  test("restore --udp-bridge of an image without interfaces is one usage line", async () => {
    const store = `file:${join(tmp(), "store")}`;
    const ckpt = ["--store", store, "--checkpoint-at", "1000", "--exit-after-checkpoint"];
    expect(await main(["run", ...ckpt, guest("hello")], captureIO())).toBe(0);
    const io = captureIO();
    expect(await main(["restore", "--store", store, "--udp-bridge", "127.0.0.1:7007", "latest"], io)).toBe(2);
    expect(io.stderr()).toBe(
      "vkc: --udp-bridge: image latest has no network interface to forward to (made without --net or --tap)\n",
    );
  });
});
