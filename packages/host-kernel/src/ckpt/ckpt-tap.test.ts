/**
 * A process holding a tap device: the freeze keeps the interface's config and the frames queued
 * on it, and a thaw into a kernel with a network reopens the tap, plugs it back into its bridge,
 * and the program reads the queued frame as if nothing had happened (ARCHITECTURE §4 step 5/7:
 * "datagrams queued at the instant of the checkpoint are not lost").
 */
import { describe, expect, it } from "vitest";
import { addi, ecall, li } from "../cpu/test-asm.ts";
import { BridgeRegistry } from "../dev/bridge-registry.ts";
import { BROADCAST_MAC, localMac } from "../dev/net-frame.ts";
import { encodeEthernet } from "../dev/net-ipv4.ts";
import { encodeIfName, IFF_UP, TAPSBRIDGE, TAPSIFFLAGS } from "../dev/tap-ioctl.ts";
import { O_RDWR } from "../fs/file-types.ts";
import { createKernel } from "../kernel.ts";
import { DATA, spawnCode } from "../kernel-test-support.ts";
import { SYS_exit, SYS_ioctl, SYS_openat, SYS_read, SYS_write } from "../syscall/syscall-numbers.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages } from "./ckpt-test-support.ts";
import { describeKernel, pageBytes } from "./describe.ts";
import { rebuildKernel } from "./rebuild.ts";
import { thawProcess } from "./thaw.ts";

const [PATH, ONE, BRIDGE, BUF] = [DATA, DATA + 16, DATA + 32, DATA + 64];

/** open /dev/tap0, bring it up, plug it into br0, read one frame, write it back, exit(its length). */
function echoOnce(): (number | number[])[] {
  const call = (nr: number) => [li(17, nr), ecall()];
  return [
    [li(10, -100), li(11, PATH), li(12, O_RDWR), call(SYS_openat), addi(8, 10, 0)].flat(),
    [addi(10, 8, 0), li(11, TAPSIFFLAGS), li(12, ONE), call(SYS_ioctl)].flat(),
    [addi(10, 8, 0), li(11, TAPSBRIDGE), li(12, BRIDGE), call(SYS_ioctl)].flat(),
    [addi(10, 8, 0), li(11, BUF), li(12, 1514), call(SYS_read), addi(9, 10, 0)].flat(),
    [addi(10, 8, 0), li(11, BUF), addi(12, 9, 0), call(SYS_write)].flat(),
    call(SYS_exit),
  ].flat() as (number | number[])[];
}

function data(): Uint8Array {
  const bytes = new Uint8Array(64);
  bytes.set(new TextEncoder().encode("/dev/tap0"), PATH - DATA);
  new DataView(bytes.buffer).setUint32(ONE - DATA, IFF_UP, true);
  bytes.set(encodeIfName("br0"), BRIDGE - DATA);
  return bytes;
}

const frame = encodeEthernet({
  dst: BROADCAST_MAC,
  src: localMac(5),
  ethertype: 0x88b5,
  payload: new TextEncoder().encode("queued at the checkpoint"),
});

describe("freeze and thaw of a process holding a tap", () => {
  it("keeps the frame queued on the tap and the tap's bridge, and the program carries on", async () => {
    const bridges = new BridgeRegistry();
    const bridge = bridges.create("br0");
    const k = createKernel({ network: { bridges, taps: 1 } });
    const link = bridge.attach({ name: "wire", receive: () => {} });
    spawnCode(k, echoOnce(), data());
    expect((await k.run()).reason).toBe("deadlock"); // asleep in read(2) on the tap
    link.send(frame, k.now());
    bridges.poll(k.now()); // the frame is queued on tap0; the reader is woken but has not run
    expect(k.taps?.unit(0)?.snapshot().queue).toHaveLength(1);

    const images = memoryImages();
    const w = await createStoreTarget(images).checkpoint(k, k.initPid);
    const manifest = await images.readManifest(w.id);
    const tap = manifest.processes[0]?.descriptors.find((d) => d.kind === "tap");
    expect(tap).toMatchObject({ kind: "tap", name: "tap0", queued: [frame] });

    // Another machine: a fresh kernel whose network has a br0 with something listening on it.
    const theirs = new BridgeRegistry();
    const seen: Uint8Array[] = [];
    theirs.create("br0").attach({ name: "wire", receive: (f) => seen.push(f) });
    const t = await thawProcess(images, w.id, { network: { bridges: theirs, taps: 1 } });
    expect(t.kernel.taps?.unit(0)?.config).toMatchObject({ up: true, bridge: "br0" });
    const r = await t.kernel.run();
    expect([r.reason, r.exitStatus]).toEqual(["exited", frame.length]);
    theirs.poll(Number.MAX_SAFE_INTEGER);
    expect(seen).toEqual([frame]);
  });

  it("refuses, before touching anything, to thaw a tap into a kernel without a network", async () => {
    const bridges = new BridgeRegistry();
    bridges.create("br0");
    const k = createKernel({ network: { bridges, taps: 1 } });
    spawnCode(k, echoOnce(), data());
    await k.run();
    const images = memoryImages();
    const w = await createStoreTarget(images).checkpoint(k, k.initPid);
    await expect(thawProcess(images, w.id, {})).rejects.toThrow(
      /tap tap0: thaw it into a kernel with a network/,
    );
  });

  it("describeKernel / rebuildKernel keep the tap, its queued frame and its bridge too", async () => {
    const bridges = new BridgeRegistry();
    const link = bridges.create("br0").attach({ name: "wire", receive: () => {} });
    const k = createKernel({ network: { bridges, taps: 1 } });
    spawnCode(k, echoOnce(), data());
    await k.run();
    link.send(frame, k.now());
    bridges.poll(k.now());
    const desc = describeKernel(k, { pageRef: pageBytes });
    expect(() => rebuildKernel(desc, {})).toThrow(/a tap needs a kernel with a network/);
    const theirs = new BridgeRegistry();
    const seen: Uint8Array[] = [];
    theirs.create("br0").attach({ name: "wire", receive: (f) => seen.push(f) });
    const rebuilt = rebuildKernel(desc, { network: { bridges: theirs, taps: 1 } });
    expect(rebuilt.taps?.unit(0)?.config).toMatchObject({ up: true, bridge: "br0" });
    const r = await rebuilt.run();
    expect([r.reason, r.exitStatus]).toEqual(["exited", frame.length]);
    theirs.poll(Number.MAX_SAFE_INTEGER);
    expect(seen).toEqual([frame]);
  });
});
