/**
 * A tap driven by a real guest program through the kernel's syscalls: openat, ioctl, a read
 * that blocks until a frame arrives from the bridge, and a write back into the bridge.
 */
import { describe, expect, it } from "vitest";
import { addi, ecall, li } from "../cpu/test-asm.ts";
import { O_RDWR } from "../fs/file-types.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { DATA, spawnCode } from "../kernel-test-support.ts";
import type { NativeProgram } from "../native/native-types.ts";
import {
  SYS_close,
  SYS_exit,
  SYS_exit_group,
  SYS_ioctl,
  SYS_lwp_create,
  SYS_mmap2,
  SYS_openat,
  SYS_read,
  SYS_sched_yield,
  SYS_write,
} from "../syscall/syscall-numbers.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../vm/vm-types.ts";
import type { BridgePort } from "./bridge.ts";
import { BridgeRegistry } from "./bridge-registry.ts";
import { BROADCAST_MAC, localMac } from "./net-frame.ts";
import { encodeEthernet } from "./net-ipv4.ts";
import { TapDevices } from "./tap-devices.ts";
import { encodeIfName, IFF_UP, TAPSBRIDGE, TAPSIFFLAGS } from "./tap-ioctl.ts";

const AT_FDCWD = -100;
const S0 = 8;
const S1 = 9;
const [PATH, ONE, BRIDGE, BUF] = [DATA, DATA + 16, DATA + 32, DATA + 64];

/** open /dev/tap0, bring it up, plug it into br0, read one frame, write it back, exit(n). */
function echoOnceProgram(): (number | number[])[] {
  const call = (nr: number) => [li(17, nr), ecall()];
  return [
    li(10, AT_FDCWD),
    li(11, PATH),
    li(12, O_RDWR),
    call(SYS_openat),
    addi(S0, 10, 0),
    [addi(10, S0, 0), li(11, TAPSIFFLAGS), li(12, ONE), call(SYS_ioctl)].flat(),
    [addi(10, S0, 0), li(11, TAPSBRIDGE), li(12, BRIDGE), call(SYS_ioctl)].flat(),
    [addi(10, S0, 0), li(11, BUF), li(12, 1514), call(SYS_read)].flat(),
    addi(S1, 10, 0),
    [addi(10, S0, 0), li(11, BUF), addi(12, S1, 0), call(SYS_write)].flat(),
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

describe("tap under the kernel", () => {
  it("blocks a guest read until the bridge delivers, then carries its write back", () => {
    const bridges = new BridgeRegistry();
    const bridge = bridges.create("br0");
    const taps = new TapDevices(bridges);
    const k = createKernel({ devices: taps.devNodes(1) });
    const seen: Uint8Array[] = [];
    const port: BridgePort = { name: "wire", receive: (f) => seen.push(f) };
    const link = bridge.attach(port);

    spawnCode(k, echoOnceProgram(), data());
    expect(k.runSync().reason).toBe("deadlock"); // asleep in read(2) on tap:tap0:rx
    expect(taps.unit(0)?.config).toMatchObject({ up: true, bridge: "br0" });

    const frame = encodeEthernet({
      dst: BROADCAST_MAC,
      src: localMac(7),
      ethertype: 0x88b5,
      payload: new TextEncoder().encode("ping"),
    });
    link.send(frame, k.now());
    bridges.poll(k.now());
    const r = k.runSync();
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(frame.length); // write(2) returned the whole frame

    bridges.poll(k.now());
    expect(seen).toEqual([frame]);
    expect(taps.unit(0)?.isOpen).toBe(false); // exit closed the descriptor
  });
});

describe("tap under the kernel's network option", () => {
  it("delivers a frame sent at a virtual time with no manual polling, and carries the echo back", async () => {
    const bridges = new BridgeRegistry();
    const bridge = bridges.create("br0");
    const k = createKernel({ network: { bridges, taps: 1 } });
    const seen: { frame: Uint8Array; at: number }[] = [];
    const link = bridge.attach({ name: "wire", receive: (f) => seen.push({ frame: f, at: k.now() }) });
    const frame = encodeEthernet({
      dst: BROADCAST_MAC,
      src: localMac(9),
      ethertype: 0x88b5,
      payload: new TextEncoder().encode("at t=5ms"),
    });
    spawnCode(k, echoOnceProgram(), data());
    expect((await k.run()).reason).toBe("deadlock"); // asleep in read(2), plugged into br0
    expect(k.taps?.unit(0)?.config).toMatchObject({ up: true, bridge: "br0" });
    const sendAt = k.now() + 5_000_000;
    link.send(frame, sendAt); // due later: the kernel skips idle time to it and delivers it
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(frame.length);
    expect(r.time).toBeGreaterThanOrEqual(sendAt);
    // The echo left the guest; it reaches the wire at the next delivery point.
    bridges.poll(Number.MAX_SAFE_INTEGER);
    expect(seen.map((s) => s.frame)).toEqual([frame]);
  });

  it("wakes every thread asleep in read when the last descriptor closes: the retried reads say EBADF", async () => {
    const bridges = new BridgeRegistry();
    const taps = new TapDevices(bridges);
    const results: number[] = [];
    let asleep = 0;
    let k: Kernel | null = null;
    const program: NativeProgram = {
      main: "main",
      threadRoles: ["reader"],
      initialState: { step: 0, mem: 0, fd: -1 },
      steps: {
        main(ctx, env) {
          const s = ctx.state as { step: number; mem: number; fd: number };
          switch (s.step++) {
            case 0:
              return {
                syscall: SYS_mmap2,
                args: [0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0],
              };
            case 1:
              s.mem = ctx.result >>> 0;
              env.vm.copyout(s.mem, new TextEncoder().encode("/dev/tap0\0"));
              return { syscall: SYS_openat, args: [AT_FDCWD, s.mem, O_RDWR, 0] };
            case 2:
              s.fd = ctx.result;
              return { syscall: SYS_lwp_create, args: [0, 0, 0, s.fd, 0] };
            case 3:
              return { syscall: SYS_lwp_create, args: [0, 0, 0, s.fd, 0] };
            case 4:
            case 5:
              return { syscall: SYS_sched_yield }; // both readers go to sleep in read(2)
            case 6:
              asleep = [...(k?.lwps.values() ?? [])].filter((l) => l.wchan === "tap:tap0:rx").length;
              return { syscall: SYS_close, args: [s.fd] };
            default:
              if (results.length < 2 && s.step < 100) return { syscall: SYS_sched_yield };
              return { syscall: SYS_exit_group, args: [0] };
          }
        },
        reader(ctx) {
          if (ctx.state === null) {
            ctx.state = ctx.result; // the fd
            return { syscall: SYS_read, args: [ctx.result, 0x1000_0000, 1514] };
          }
          results.push(ctx.result);
          return { syscall: SYS_exit, args: [0] };
        },
      },
    };
    k = createKernel({ devices: taps.devNodes(1), natives: { "/bin/tapread": program } });
    k.spawn({ path: "/bin/tapread" });
    expect((await k.run()).reason).toBe("exited");
    expect(asleep).toBe(2); // both readers were asleep in read(2) when main closed the fd
    expect(results).toEqual([-9, -9]);
    expect(taps.unit(0)?.isOpen).toBe(false);
  });
});
