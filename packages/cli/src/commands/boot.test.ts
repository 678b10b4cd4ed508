import { createSocket } from "node:dgram";
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { openBootNetwork } from "./boot-network.ts";
import { memoryOption, splitGuests, tapOption, udpBridgeOption, uplinkAddresses } from "./boot-options.ts";

const guest = (name: string) => join(import.meta.dirname, "../../../host-kernel/guest/bin", `${name}.elf`);
const tmp = () => mkdtempSync(join(tmpdir(), "vkc-boot-"));

/** A UDP port on loopback that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("vkc boot options", () => {
  test("--memory takes K/M/G suffixes or bytes, whole pages only", () => {
    expect(memoryOption("64M")).toBe(64 * 1024 * 1024);
    expect(memoryOption("512M")).toBe(512 * 1024 * 1024);
    expect(memoryOption("1G")).toBe(1024 ** 3);
    expect(memoryOption("65536")).toBe(65536);
    expect(memoryOption("128KiB")).toBe(128 * 1024);
    for (const bad of ["3K", "4097", "2G", "1025M", "lots", "-64M", ""])
      expect(() => memoryOption(bad)).toThrow(/--memory/);
  });

  test("--tap NAME[:ADDR] repeats, a bare address gets /24, a unit twice is refused", () => {
    const taps = tapOption("tap1", tapOption("tap0:10.0.0.2"));
    expect(taps).toEqual([
      { name: "tap0", unit: 0, address: "10.0.0.2/24" },
      { name: "tap1", unit: 1 },
    ]);
    expect(tapOption("tap3:192.168.1.7/16")[0]?.address).toBe("192.168.1.7/16");
    for (const bad of ["eth0", "tap64", "tap0:10.0.0.256", "tap0:10.0.0.1/31"]) {
      expect(() => tapOption(bad)).toThrow(/--tap/);
    }
    expect(() => tapOption("tap0", taps)).toThrow(/tap0 is given twice/);
  });

  test("--udp-bridge takes a loopback HOST:PORT", () => {
    expect(udpBridgeOption("127.0.0.1:7000")).toEqual({ host: "127.0.0.1", port: 7000 });
    expect(udpBridgeOption("localhost:9")).toEqual({ host: "127.0.0.1", port: 9 });
    for (const bad of ["10.0.0.1:7000", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000"]) {
      expect(() => udpBridgeOption(bad)).toThrow(/--udp-bridge/);
    }
  });

  test("guests are split at each further '--'; an empty one is a usage error", () => {
    expect(splitGuests("a.elf", ["1", "--x", "--", "b.elf", "--", "c.elf", "2"])).toEqual([
      { elf: "a.elf", args: ["1", "--x"] },
      { elf: "b.elf", args: [] },
      { elf: "c.elf", args: ["2"] },
    ]);
    expect(() => splitGuests("a.elf", ["--"])).toThrow(/guest 2 has no ELF/);
  });
});

describe("vkc boot", () => {
  test("runs a guest in a vkernel: the same output and exit status as on the host", async () => {
    const host = captureIO();
    expect(await main(["run", guest("hello"), "one", "two"], host)).toBe(0);
    const vk = captureIO();
    expect(await main(["boot", "--", guest("hello"), "one", "two"], vk)).toBe(0);
    expect(vk.stdout()).toBe(host.stdout());
    expect(vk.stderr()).toBe("");
  });

  test("bad flags and files are one line naming the flag, with exit status 2 (usage) or 1", async () => {
    const dir = tmp();
    const notElf = join(dir, "not-an.elf");
    writeFileSync(notElf, "#!/bin/sh\necho not an ELF\n");
    const cases: [string[], number, RegExp][] = [
      [["boot", "--vcpus", "0", "--", guest("hello")], 2, /--vcpus must be a whole number from 1 to 64/],
      [["boot", "--vcpus", "65", "--", guest("hello")], 2, /--vcpus/],
      [["boot", "--memory", "100", "--", guest("hello")], 2, /--memory takes a size/],
      [["boot", "--tap", "eth0", "--", guest("hello")], 2, /--tap takes tapN/],
      [["boot", "--udp-bridge", "8.8.8.8:53", "--", guest("hello")], 2, /--udp-bridge takes a loopback/],
      [["boot", "--udp-bridge", "127.0.0.1:7000", "--", guest("hello")], 2, /--udp-bridge needs a --tap/],
      [
        ["boot", "--tap", "tap0", "--udp-bridge", "127.0.0.1:7000", "--", guest("hello")],
        2,
        /--udp-bridge needs an address on the first tap/,
      ],
      [["boot", "--", guest("hello"), "--"], 2, /guest 2 has no ELF/],
      [["boot", "--"], 2, /missing required argument 'elf'/],
      [["boot", "--", join(dir, "missing.elf")], 1, /cannot read ELF file .*missing\.elf: no such file/],
      [
        ["boot", "--", guest("hello"), "--", notElf],
        1,
        /^vkc: guest .*not-an\.elf: not an ELF file \(bad magic\)$/m,
      ],
    ];
    for (const [argv, status, message] of cases) {
      const io = captureIO();
      expect(await main(argv, io), argv.join(" ")).toBe(status);
      expect(io.stderr().trimEnd().split("\n")).toHaveLength(1);
      expect(io.stderr()).toMatch(message);
    }
  });

  test("--tap and --udp-bridge build the host network: br0, tap units, an uplink; a port in use is one line", async () => {
    const none = await openBootNetwork([], undefined);
    expect(none.network).toBeUndefined();
    const port = await freeUdpPort();
    const net = await openBootNetwork(tapOption("tap2", tapOption("tap0:10.0.0.2/24")), {
      host: "127.0.0.1",
      port,
    });
    try {
      expect(net.network?.taps).toBe(3);
      expect(net.network?.bridges.names()).toEqual(["br0"]);
      expect(net.uplink).toEqual({ address: "127.0.0.1", port });
      expect(uplinkAddresses({ name: "tap0", unit: 0, address: "10.0.0.2/24" })).toEqual({
        guestIp: "10.0.0.2",
        uplinkIp: "10.0.0.254",
      });
      const busy = captureIO();
      const argv = [
        "boot",
        "--tap",
        "tap0:10.0.0.2/24",
        "--udp-bridge",
        `127.0.0.1:${port}`,
        "--",
        guest("hello"),
      ];
      expect(await main(argv, busy)).toBe(1);
      expect(busy.stderr().trimEnd().split("\n")).toHaveLength(1);
      expect(busy.stderr()).toMatch(new RegExp(`--udp-bridge 127\\.0\\.0\\.1:${port}: .*cannot bind`));
    } finally {
      await net.close();
    }
  });

  test("--tap gives the vkernel a vke: a UDP echo pair of guests talks over it", async () => {
    const io = captureIO();
    const argv = ["boot", "--vcpus", "2", "--tap", "tap0:10.0.0.2/24"];
    const guests = ["--", guest("udpecho"), "7", "2", "--", guest("udpping"), "10.0.0.2", "7", "2"];
    expect(await main([...argv, ...guests], io), io.stderr()).toBe(0);
    expect(io.stdout()).toMatch(/reply 2: ping 2/);
    expect(io.stdout()).toMatch(/udpping: 2\/2 replies/);
  });

  test("restore re-creates the network: a vkernel frozen mid-exchange finishes it after the thaw", async () => {
    const dir = tmp();
    const store = `file:${join(dir, "store")}`;
    const flags = ["--vcpus", "2", "--tap", "tap0:10.0.0.2/24", "--json"];
    const guests = ["--", guest("udpecho"), "7", "3", "--", guest("udpping"), "10.0.0.2", "7", "3"];
    const whole = captureIO();
    expect(await main(["boot", ...flags, "--console", join(dir, "whole.txt"), ...guests], whole)).toBe(0);
    const total = Number(events(whole.stdout()).find((e) => e.event === "exit")?.instructions);
    const at = ["--checkpoint-at", String(Math.floor(total / 2)), "--exit-after-checkpoint"];
    const first = captureIO();
    const argv = ["boot", ...flags, "--store", store, ...at, "--console", join(dir, "a.txt"), ...guests];
    expect(await main(argv, first), first.stderr()).toBe(0);
    const restored = captureIO();
    const code = await main(
      ["restore", "--store", store, "--console", join(dir, "b.txt"), "latest"],
      restored,
    );
    expect(code, restored.stderr()).toBe(0);
    const file = (f: string) => readFileSync(join(dir, f), "utf8");
    expect(file("a.txt")).not.toMatch(/udpping: 3\/3 replies/);
    expect(file("a.txt") + file("b.txt")).toBe(file("whole.txt"));
    expect(file("whole.txt")).toMatch(/udpping: 3\/3 replies/);
  });

  test("--udp-bridge: a real UDP client on loopback reaches an echo server inside the vkernel", async () => {
    const port = await freeUdpPort();
    const client = createSocket("udp4");
    const replies: string[] = [];
    client.on("message", (msg) => replies.push(msg.toString()));
    const io = captureIO();
    const argv = ["boot", "--tap", "tap0:10.0.0.2/24", "--udp-bridge", `127.0.0.1:${port}`];
    const booted = main([...argv, "--", guest("udpecho"), String(port), "2"], io);
    // Send until the echo server is up and answers (the first datagrams may precede its bind),
    // then once more: its second datagram ends it.
    for (let i = 0; replies.length === 0 && i < 400; i++) {
      client.send("hello vkernel", port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 50));
    }
    client.send("bye", port, "127.0.0.1");
    expect(await booted, io.stderr()).toBe(0);
    client.close();
    expect(replies[0]).toBe("hello vkernel");
    expect(io.stdout()).toMatch(/echo 1: 13 bytes from 10\.0\.0\.\d+: "hello vkernel"/);
    expect(io.stderr()).toMatch(
      new RegExp(`^vkc: UDP bridge on 127\\.0\\.0\\.1:${port} → 10\\.0\\.0\\.2/24\n$`),
    );
  });

  test("--checkpoint-at signals the vkernel (SIGCKPTEXIT); the image records the boot; restore thaws it", async () => {
    const dir = tmp();
    const store = `file:${join(dir, "store")}`;
    const io = captureIO();
    const argv = ["boot", "--json", "--store", store, "--vcpus", "1", "--memory", "1M"];
    const status = await main(
      [
        ...argv,
        "--checkpoint-at",
        "2000",
        "--exit-after-checkpoint",
        "--console",
        join(dir, "a.txt"),
        "--",
        guest("hello"),
        "x",
      ],
      io,
    );
    expect(status, io.stderr()).toBe(0);
    const [written, exit] = events(io.stdout());
    // SIGCKPTEXIT ran the vkernel's own protocol, which ends in sys_checkpoint(FREEZE).
    expect(written).toMatchObject({ event: "checkpoint", cause: "syscall" });
    expect(exit).toMatchObject({ event: "exit", reason: "checkpointed" });

    const show = captureIO();
    expect(await main(["images", "show", "latest", "--store", store], show)).toBe(0);
    expect(show.stdout()).toMatch(/^vkernel: 1 vCPU\(s\), memimage 1(\.0)? MiB \(\d+ pages resident/m);
    expect(show.stdout()).toMatch(/guest 0: \/guest\/0\/hello\.elf x$/m);

    const restored = captureIO();
    const code = await main(
      ["restore", "--json", "--store", store, "--console", join(dir, "b.txt"), "latest"],
      restored,
    );
    // The vkernel program is registered, its guest found, and the thawed vkernel finishes it.
    expect(restored.stderr()).toBe("");
    expect(events(restored.stdout()).find((e) => e.event === "exit")).toMatchObject({ status: 0 });
    expect(code).toBe(0);
    const out = readFileSync(join(dir, "a.txt"), "utf8") + readFileSync(join(dir, "b.txt"), "utf8");
    expect(out).toMatch(/^Hello from a vkc guest!$/m);
    expect(out).toMatch(/^argv\[1\]: "x" \(1 bytes\)$/m);
  });

  test("--precopy: the vkernel is pre-copied while it runs, checkpointed with a short pause, restored whole", async () => {
    const dir = tmp();
    const store = `file:${join(dir, "store")}`;
    // Long enough (a second or two) for the pre-copy rounds to run beside the guest.
    const guestArgs = ["--", guest("memtouch"), "2", "30", "800"];
    const common = ["boot", "--vcpus", "1", "--memory", "8M", "--json"];
    const whole = captureIO();
    expect(await main([...common, "--console", join(dir, "whole.txt"), ...guestArgs], whole)).toBe(0);
    const total = Number(events(whole.stdout()).find((e) => e.event === "exit")?.instructions);
    const at = String(Math.floor(total * 0.66));

    const first = captureIO();
    const flags = ["--precopy", "--store", store, "--checkpoint-at", at, "--exit-after-checkpoint"];
    expect(
      await main([...common, ...flags, "--console", join(dir, "a.txt"), ...guestArgs], first),
      first.stderr(),
    ).toBe(0);
    const written = events(first.stdout()).find((e) => e.event === "checkpoint");
    // The vkernel's own protocol froze it (SIGCKPTEXIT) over the pages pre-copied meanwhile.
    expect(written).toMatchObject({ cause: "syscall", parent: null });
    expect(written?.precopyRounds).toBeGreaterThan(0);
    expect(typeof written?.pauseMs).toBe("number");

    const restored = captureIO();
    const code = await main(
      ["restore", "--json", "--store", store, "--console", join(dir, "b.txt"), "latest"],
      restored,
    );
    expect(code, restored.stderr()).toBe(0);
    const file = (f: string) => readFileSync(join(dir, f), "utf8");
    expect(file("a.txt") + file("b.txt")).toBe(file("whole.txt"));
    expect(file("whole.txt")).toMatch(/^final: checksum 0x[0-9a-f]{8}/m);
  });

  test("a 2-vCPU vkernel checkpointed by its own protocol and restored finishes as an uninterrupted boot", async () => {
    const dir = tmp();
    const store = `file:${join(dir, "store")}`;
    const guestArgs = ["--", guest("threads"), "4", "500"];
    const whole = captureIO();
    expect(
      await main(
        ["boot", "--vcpus", "2", "--json", "--console", join(dir, "whole.txt"), ...guestArgs],
        whole,
      ),
    ).toBe(0);
    const total = Number(events(whole.stdout()).find((e) => e.event === "exit")?.instructions);
    const at = String(Math.floor(total * 0.4));

    const first = captureIO();
    const flags = [
      "--vcpus",
      "2",
      "--json",
      "--store",
      store,
      "--checkpoint-at",
      at,
      "--exit-after-checkpoint",
    ];
    expect(
      await main(["boot", ...flags, "--console", join(dir, "a.txt"), ...guestArgs], first),
      first.stderr(),
    ).toBe(0);
    expect(events(first.stdout())[0]).toMatchObject({ event: "checkpoint" });

    const show = captureIO();
    expect(await main(["images", "show", "latest", "--store", store, "--json"], show)).toBe(0);
    const view = events(show.stdout())[0]?.vkernel as { vcpus: number; processes: { threads: unknown[] }[] };
    expect(view.vcpus).toBe(2);
    expect(view.processes[0]?.threads.length).toBeGreaterThan(1);
    const ls = captureIO();
    expect(await main(["images", "ls", "--store", store], ls)).toBe(0);
    expect(ls.stdout()).toMatch(/ vkernel:threads\.elf +\[latest\]/);
    // The vkernel's own freeze writes kind "vkernel" (FORMAT.md §4.1), with its map.
    const lsJson = captureIO();
    expect(await main(["images", "ls", "--json", "--store", store], lsJson)).toBe(0);
    expect(events(lsJson.stdout())[0]).toMatchObject({ event: "image", kind: "vkernel" });
    const text = captureIO();
    expect(await main(["images", "show", "latest", "--store", store], text)).toBe(0);
    expect(text.stdout()).toMatch(/^vkernel: 2 vCPU\(s\), memimage 64 MiB \(\d+ pages resident/m);
    expect(text.stdout()).toMatch(
      /^ {2}virtual processes: 1\n {2}vproc 1 .*\n {4}thread \d+: pc 0x[0-9a-f]{8} sp 0x/m,
    );

    const restored = captureIO();
    const code = await main(
      ["restore", "--json", "--store", store, "--console", join(dir, "b.txt"), "latest"],
      restored,
    );
    expect(code, restored.stderr()).toBe(0);
    const file = (f: string) => readFileSync(join(dir, f), "utf8");
    expect(file("a.txt") + file("b.txt")).toBe(file("whole.txt"));
    expect(file("whole.txt")).toMatch(/threads: ok/);
  });

  test("restore refuses a guest ELF that changed since the boot, in one line, writing nothing", async () => {
    const dir = tmp();
    const store = `file:${join(dir, "store")}`;
    const elf = join(dir, "hello.elf");
    copyFileSync(guest("hello"), elf);
    const argv = ["boot", "--store", store, "--checkpoint-at", "2000", "--exit-after-checkpoint"];
    expect(await main([...argv, "--console", join(dir, "a.txt"), "--", elf], captureIO())).toBe(0);
    appendFileSync(elf, "x");
    const io = captureIO();
    expect(await main(["restore", "--store", store, "--console", join(dir, "b.txt"), "latest"], io)).toBe(1);
    expect(io.stderr()).toMatch(
      /^vkc: guest ELF .*hello\.elf changed since the image was made \(sha256 [0-9a-f]{12}…\): put the original back\n$/,
    );
    expect(existsSync(join(dir, "b.txt"))).toBe(false);
  });
});
