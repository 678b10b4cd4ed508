import { describe, expect, it } from "vitest";
import { blockOn, O_NONBLOCK, O_RDWR, type OpenFileState, POLLIN, POLLOUT } from "../fs/file-types.ts";
import { EAGAIN, EBUSY, EFAULT, EINVAL, EIO, ENOENT, ENOTTY, ENXIO } from "../syscall/errno.ts";
import type { BridgePort } from "./bridge.ts";
import { BridgeRegistry } from "./bridge-registry.ts";
import { NetSnapshotError } from "./net-errors.ts";
import { BROADCAST_MAC, localMac } from "./net-frame.ts";
import { encodeEthernet } from "./net-ipv4.ts";
import { asSyscall, FakeCaller, FakeHost, readVia } from "./net-test-support.ts";
import { defaultTapMac, type TapSnapshot } from "./tap.ts";
import { TapDevices } from "./tap-devices.ts";
import { isTapFile, type TapFile } from "./tap-file.ts";
import { tapDescriptorImage, tapSnapshotFromImage } from "./tap-image.ts";
import * as ioc from "./tap-ioctl.ts";

const PEER = localMac(0x99);

function frame(payload: number[], dst = BROADCAST_MAC, src = PEER): Uint8Array {
  return encodeEthernet({ dst, src, ethertype: 0x88b5, payload: Uint8Array.from(payload) });
}

/** A tap opened on a fresh kernel, brought up and plugged into br0, with a recording peer port. */
function setup(options: { up?: boolean; nonblock?: boolean } = {}) {
  const bridges = new BridgeRegistry();
  const bridge = bridges.create("br0");
  const taps = new TapDevices(bridges);
  const host = new FakeHost();
  const caller = new FakeCaller();
  const opened = taps.node(0).open(O_RDWR, host);
  if (typeof opened === "number" || !isTapFile(opened)) throw new Error("open failed");
  const tap: TapFile = opened;
  const file: OpenFileState = { flags: O_RDWR | (options.nonblock === true ? O_NONBLOCK : 0), offset: 0 };
  const seen: Uint8Array[] = [];
  const peer: BridgePort = { name: "peer", receive: (f) => seen.push(f) };
  const link = bridge.attach(peer);
  const ioctlIn = (request: number, bytes: Uint8Array) => {
    caller.memory.set(bytes, 256);
    return tap.ioctl(file, request, 256, caller);
  };
  const ioctlOut = (request: number, len: number) => {
    const result = tap.ioctl(file, request, 512, caller);
    return { result, bytes: caller.memory.slice(512, 512 + len) };
  };
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  if (options.up !== false) {
    expect(ioctlIn(ioc.TAPSIFFLAGS, u32(ioc.IFF_UP))).toBe(0);
    expect(ioctlIn(ioc.TAPSBRIDGE, ioc.encodeIfName("br0"))).toBe(0);
  }
  return { bridges, bridge, taps, host, caller, tap, file, seen, link, ioctlIn, ioctlOut, u32 };
}

describe("tap read and write", () => {
  it("reads one frame per read, in order, and wakes sleepers when a frame arrives", () => {
    const t = setup();
    expect(t.tap.read(t.file, new Uint8Array(100), t.caller)).toEqual(blockOn("tap:tap0:rx"));
    t.link.send(frame([1]), 0);
    t.link.send(frame([2, 2]), 0);
    expect(t.host.wakeups).toEqual([]); // nothing moves before the kernel polls
    t.bridges.poll(0);
    expect(t.host.wakeups).toEqual(["tap:tap0:rx", "tap:tap0:rx"]);
    expect(t.tap.poll(t.file)).toBe(POLLIN | POLLOUT);
    const first = readVia(t.tap, t.file, 1514, t.caller);
    expect(first.result).toBe(15);
    expect([...first.bytes.subarray(14)]).toEqual([1]);
    expect(readVia(t.tap, t.file, 1514, t.caller).result).toBe(16);
    expect(t.tap.poll(t.file)).toBe(POLLOUT);
    expect(isBlockResult(t.tap.read(t.file, new Uint8Array(10), t.caller))).toBe(true);
  });

  it("returns EAGAIN instead of blocking under O_NONBLOCK, also when set by FIONBIO", () => {
    const t = setup({ nonblock: true });
    expect(readVia(t.tap, t.file, 100, t.caller).result).toBe(-EAGAIN);
    expect(t.ioctlIn(ioc.FIONBIO, t.u32(0))).toBe(0);
    expect(t.file.flags & O_NONBLOCK).toBe(0);
    expect(isBlockResult(readVia(t.tap, t.file, 100, t.caller).result)).toBe(true);
    expect(t.ioctlIn(ioc.FIONBIO, t.u32(1))).toBe(0);
    expect(asSyscall(t.file, t.tap.read(t.file, new Uint8Array(10), t.caller))).toBe(-EAGAIN);
  });

  it("truncates a frame to a short buffer and discards the rest", () => {
    const t = setup();
    t.link.send(frame([1, 2, 3, 4]), 0);
    t.link.send(frame([5]), 0);
    t.bridges.poll(0);
    expect(t.ioctlOut(ioc.FIONREAD, 4).bytes).toEqual(t.u32(18));
    expect(readVia(t.tap, t.file, 16, t.caller).result).toBe(16);
    expect([...readVia(t.tap, t.file, 100, t.caller).bytes.subarray(14)]).toEqual([5]);
    expect(t.ioctlOut(ioc.FIONREAD, 4).bytes).toEqual(t.u32(0));
  });

  it("writes one frame per write into the bridge at the kernel's virtual time", () => {
    const t = setup();
    t.host.time = 1234;
    const f = frame([7, 7], PEER, defaultTapMac(0));
    expect(t.tap.write(t.file, f, t.caller)).toBe(f.length);
    expect(t.bridge.lookup(defaultTapMac(0), 1234)).toBe("tap0");
    expect(t.bridge.addresses()[0]?.seen).toBe(1234);
    t.bridges.poll(1234);
    expect(t.seen).toEqual([f]);
    expect(t.tap.device.stats).toMatchObject({ txFrames: 1, txBytes: f.length });
  });

  it("refuses invalid frames, and writes while down", () => {
    const t = setup();
    expect(t.tap.write(t.file, new Uint8Array(0), t.caller)).toBe(0);
    expect(t.tap.write(t.file, new Uint8Array(10), t.caller)).toBe(-EINVAL);
    expect(t.tap.write(t.file, frame(new Array(1501).fill(0)), t.caller)).toBe(-EINVAL);
    expect(t.tap.write(t.file, frame(new Array(1500).fill(0)), t.caller)).toBe(1514);
    expect(t.ioctlIn(ioc.TAPSIFFLAGS, t.u32(0))).toBe(0);
    expect(t.tap.write(t.file, frame([1]), t.caller)).toBe(-EIO);
  });

  it("accepts and counts writes when not plugged into a bridge", () => {
    const t = setup();
    expect(t.ioctlIn(ioc.TAPSBRIDGE, ioc.encodeIfName(""))).toBe(0);
    expect(t.tap.write(t.file, frame([1]), t.caller)).toBe(15);
    expect(t.tap.device.stats.txDropped).toBe(1);
    expect(t.bridge.hasPort("tap0")).toBe(false);
  });
});

function isBlockResult(r: unknown): boolean {
  return typeof r === "object" && r !== null && "block" in r;
}

describe("tap rx queue bound", () => {
  it("drops at the tail and counts when the queue is full, and while down", () => {
    const t = setup();
    expect(t.ioctlIn(ioc.TAPSQLEN, t.u32(3))).toBe(0);
    for (let i = 0; i < 5; i++) t.link.send(frame([i]), 0);
    t.bridges.poll(0);
    const got = [0, 1, 2].map(() => readVia(t.tap, t.file, 100, t.caller).bytes[14]);
    expect(got).toEqual([0, 1, 2]);
    expect(t.tap.device.stats.rxDropped).toBe(2);
    const stats = t.ioctlOut(ioc.TAPGSTATS, 32);
    const words = Array.from({ length: 8 }, (_, i) =>
      new DataView(stats.bytes.buffer).getUint32(i * 4, true),
    );
    expect(words).toEqual([3, 45, 2, 0, 0, 0, 0, 3]);

    t.ioctlIn(ioc.TAPSIFFLAGS, t.u32(0));
    t.link.send(frame([9]), 1);
    t.bridges.poll(1);
    expect(t.tap.device.queue.length).toBe(0);
    expect(t.tap.device.stats.rxDropped).toBe(3);
  });

  it("drops deliveries longer than MTU + 14", () => {
    const t = setup();
    const info = new Uint8Array(8);
    new DataView(info.buffer).setUint16(4, 100, true);
    expect(t.ioctlIn(ioc.TAPSIFINFO, info)).toBe(0);
    t.link.send(frame(new Array(101).fill(1)), 0);
    t.link.send(frame(new Array(100).fill(1)), 0);
    t.bridges.poll(0);
    expect(t.tap.device.queue.map((f) => f.length)).toEqual([114]);
  });
});

describe("tap ioctl", () => {
  it("gets and sets MTU, MAC, address, flags, bridge and name", () => {
    const t = setup({ up: false });
    const info = t.ioctlOut(ioc.TAPGIFINFO, 8);
    const view = new DataView(info.bytes.buffer);
    expect([info.result, view.getUint32(0, true), view.getUint16(4, true), info.bytes[6]]).toEqual([
      0,
      10_000_000,
      1500,
      ioc.IFT_ETHER,
    ]);
    expect(ioc.decodeIfName(t.ioctlOut(ioc.TAPGIFNAME, 16).bytes)).toBe("tap0");

    expect(t.ioctlIn(ioc.TAPSHWADDR, Uint8Array.of(2, 1, 2, 3, 4, 5))).toBe(0);
    expect([...t.ioctlOut(ioc.TAPGHWADDR, 6).bytes]).toEqual([2, 1, 2, 3, 4, 5]);
    expect(t.ioctlIn(ioc.TAPSHWADDR, Uint8Array.of(1, 0, 0, 0, 0, 0))).toBe(-EINVAL); // multicast

    expect(t.ioctlIn(ioc.TAPSINADDR, Uint8Array.of(10, 0, 0, 1, 255, 255, 255, 0))).toBe(0);
    expect([...t.ioctlOut(ioc.TAPGINADDR, 8).bytes]).toEqual([10, 0, 0, 1, 255, 255, 255, 0]);
    expect(t.ioctlIn(ioc.TAPSINADDR, Uint8Array.of(10, 0, 0, 1, 255, 0, 255, 0))).toBe(-EINVAL);
    expect(t.tap.device.config).toMatchObject({ inetAddr: "10.0.0.1", inetMask: "255.255.255.0" });

    expect(t.ioctlOut(ioc.TAPGIFFLAGS, 4).bytes).toEqual(t.u32(0));
    expect(t.ioctlIn(ioc.TAPSIFFLAGS, t.u32(ioc.IFF_UP))).toBe(0);
    expect(t.ioctlOut(ioc.TAPGIFFLAGS, 4).bytes).toEqual(t.u32(ioc.IFF_UP));

    expect(t.ioctlIn(ioc.TAPSBRIDGE, ioc.encodeIfName("nope"))).toBe(-ENOENT);
    expect(t.ioctlIn(ioc.TAPSBRIDGE, ioc.encodeIfName("br0"))).toBe(0);
    expect(ioc.decodeIfName(t.ioctlOut(ioc.TAPGBRIDGE, 16).bytes)).toBe("br0");
    t.bridges.create("br1").attach({ name: "tap0", receive: () => {} });
    expect(t.ioctlIn(ioc.TAPSBRIDGE, ioc.encodeIfName("br1"))).toBe(-EBUSY);
    expect(t.bridge.hasPort("tap0")).toBe(true);

    const badMtu = new Uint8Array(8);
    new DataView(badMtu.buffer).setUint16(4, 1501, true);
    expect(t.ioctlIn(ioc.TAPSIFINFO, badMtu)).toBe(-EINVAL);
    expect(t.ioctlIn(ioc.TAPSQLEN, t.u32(0))).toBe(-EINVAL);
    expect(t.tap.ioctl(t.file, ioc.TAPGIFINFO, 4090, t.caller)).toBe(-EFAULT);
    expect(t.tap.ioctl(t.file, 0x1234, 0, t.caller)).toBe(-ENOTTY);
    // The request may reach the device as a signed 32-bit register value.
    expect(t.tap.ioctl(t.file, ioc.TAPGIFFLAGS | 0, 512, t.caller)).toBe(0);
    expect(ioc.TAPGIFFLAGS | 0).toBeLessThan(0);
  });

  it("uses Linux _IOC numbers in DragonFly's 't' group", () => {
    // These are ABI: a number never changes meaning.
    const table = [
      ioc.TAPSIFINFO,
      ioc.TAPGIFINFO,
      ioc.TAPGIFNAME,
      ioc.TAPGHWADDR,
      ioc.TAPSHWADDR,
      ioc.TAPGINADDR,
      ioc.TAPSINADDR,
      ioc.TAPGIFFLAGS,
      ioc.TAPSIFFLAGS,
      ioc.TAPGBRIDGE,
      ioc.TAPSBRIDGE,
      ioc.TAPGSTATS,
      ioc.TAPSQLEN,
    ];
    expect(table.map((n) => n.toString(16))).toEqual([
      "4008745b",
      "8008745c",
      "8010745d",
      "8006745e",
      "4006745f",
      "80087460",
      "40087461",
      "80047462",
      "40047463",
      "80107464",
      "40107465",
      "80207466",
      "40047467",
    ]);
  });
});

describe("tap devices", () => {
  it("opens /dev/tapN exclusively, clones the lowest free unit, and resets on close", () => {
    const t = setup();
    const host = new FakeHost();
    expect(t.taps.node(0).open(O_RDWR, host)).toBe(-EBUSY);
    const clone = t.taps.cloneNode().open(O_RDWR, host);
    expect(typeof clone !== "number" && isTapFile(clone) && clone.device.name).toBe("tap1");
    expect(t.taps.node(64).open(O_RDWR, host)).toBe(-ENXIO);
    t.link.send(frame([1]), 0);
    t.bridges.poll(0);
    t.tap.close(t.file);
    expect(t.tap.device.config).toMatchObject({ up: false, bridge: "" });
    expect(t.tap.device.queue.length).toBe(0);
    expect(t.bridge.hasPort("tap0")).toBe(false);
    expect(typeof t.taps.node(0).open(O_RDWR, host)).toBe("object");
    expect(t.taps.devNodes(2).map(([path]) => path)).toEqual(["/dev/tap", "/dev/tap0", "/dev/tap1"]);
  });
});

describe("tap snapshot and restore", () => {
  function configured() {
    const t = setup();
    t.ioctlIn(ioc.TAPSHWADDR, Uint8Array.of(2, 0xaa, 0, 0, 0, 1));
    t.ioctlIn(ioc.TAPSINADDR, Uint8Array.of(10, 0, 0, 1, 255, 255, 255, 0));
    t.ioctlIn(ioc.TAPSQLEN, t.u32(8));
    for (let i = 0; i < 3; i++) t.link.send(frame([i, i]), i);
    t.bridges.poll(5);
    return t;
  }

  it("round-trips config and queued frames through plain data, after close and reopen", () => {
    const t = configured();
    const saved = structuredClone(t.tap.snapshot());
    expect(saved.queue.length).toBe(3);
    t.tap.close(t.file); // the vkernel closes its taps before freezing
    expect(t.bridge.hasPort("tap0")).toBe(false);

    const host = new FakeHost();
    const again = t.taps.reopen(saved, host);
    expect(again.device.name).toBe("tap0");
    expect(again.snapshot()).toEqual(saved);
    expect(host.wakeups).toEqual(["tap:tap0:rx"]);
    expect(t.bridge.hasPort("tap0")).toBe(true);
    // The queued datagrams are not lost, and new ones keep arriving behind them.
    t.link.send(frame([9]), 6);
    t.bridges.poll(6);
    const file = { flags: O_RDWR, offset: 0 };
    const got = [0, 1, 2, 3].map(() => readVia(again, file, 100, t.caller).bytes[14]);
    expect(got).toEqual([0, 1, 2, 9]);
  });

  it("restores onto another unit in a fresh kernel when the bridge exists there", () => {
    const saved = structuredClone(configured().tap.snapshot());
    const bridges = new BridgeRegistry();
    const taps = new TapDevices(bridges);
    const host = new FakeHost();
    taps.open(0, host); // unit 0 busy: the restore lands on tap1
    expect(() => taps.reopen(saved, host)).toThrow(NetSnapshotError); // no br0 yet
    expect(taps.unit(1)?.isOpen).toBe(false);
    bridges.create("br0");
    const again = taps.reopen(saved, host);
    expect(again.device.name).toBe("tap1");
    expect(again.device.config).toEqual(saved.config);
    expect(again.device.queue).toEqual(saved.queue);
    expect(bridges.get("br0")?.hasPort("tap1")).toBe(true);
  });

  it("rejects a malformed snapshot and leaves the tap unchanged", () => {
    const t = configured();
    const saved = t.tap.snapshot();
    const before = structuredClone(t.tap.snapshot());
    const bad = (change: Partial<TapSnapshot["config"]>): TapSnapshot => ({
      ...saved,
      config: { ...saved.config, ...change },
    });
    expect(() => t.tap.restore(bad({ mtu: 20 }))).toThrow(NetSnapshotError);
    expect(() => t.tap.restore(bad({ mac: "nonsense" }))).toThrow(NetSnapshotError);
    expect(() => t.tap.restore(bad({ maxQueue: 2 }))).toThrow(NetSnapshotError);
    expect(() =>
      t.tap.restore({ ...saved, queue: [new Uint8Array(20), "x" as unknown as Uint8Array] }),
    ).toThrow(NetSnapshotError);
    expect(t.tap.snapshot()).toEqual(before);
  });
});

describe("tap image descriptor", () => {
  it("carries name, address, prefix, MTU, MAC and queued frames through the image model", () => {
    const t = setup();
    t.ioctlIn(ioc.TAPSINADDR, Uint8Array.of(10, 0, 0, 1, 255, 255, 240, 0));
    t.link.send(frame([1, 2]), 0);
    t.bridges.poll(0);
    const saved = t.tap.snapshot();
    const image = tapDescriptorImage(3, true, saved);
    expect(image).toMatchObject({
      fd: 3,
      cloexec: true,
      kind: "tap",
      name: "tap0",
      prefixLength: 20,
      mtu: 1500,
    });
    expect([...image.address]).toEqual([10, 0, 0, 1]);
    expect(image.queued).toEqual(saved.queue);
    const back = tapSnapshotFromImage(image, { up: true, bridge: "br0", maxQueue: saved.config.maxQueue });
    expect(back.config).toEqual(saved.config);
    expect(back.queue).toEqual(saved.queue);
    expect(tapSnapshotFromImage({ ...image, prefixLength: 0 }).config).toMatchObject({
      inetMask: "0.0.0.0",
      up: false,
      bridge: "",
    });
    expect(() => tapSnapshotFromImage({ ...image, mac: new Uint8Array(5) })).toThrow(NetSnapshotError);
  });
});
