import { describe, expect, it } from "vitest";
import { jalr, li, sw } from "../cpu/test-asm.ts";
import { decodeArpFrame, decodeUdpFrame } from "../dev/net-ipv4.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { Asm, DATA, la, spawnCode, sys, words } from "../kernel-test-support.ts";
import type { Netif } from "../net/netif.ts";
import { decodeSockaddrIn, encodeSockaddrIn } from "../net/sockaddr.ts";
import { SOCKET_MAX_QUEUE } from "../net/socket.ts";
import type { Lwp } from "../proc/proc-types.ts";
import {
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EDESTADDRREQ,
  EFAULT,
  EINVAL,
  EMSGSIZE,
  ENETUNREACH,
  ENODEV,
  ENOTSOCK,
  EOPNOTSUPP,
  EPERM,
  EPROTONOSUPPORT,
} from "./errno.ts";
import { sys_close, sys_ioctl, sys_read, sys_write } from "./sys-file.ts";
import {
  MSG_DONTWAIT,
  MSG_PEEK,
  MSG_TRUNC,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  sys_bind,
  sys_getsockname,
  sys_netif_get,
  sys_netif_set,
  sys_recvfrom,
  sys_sendto,
  sys_socket,
  VK_NETIF_SIZE,
} from "./sys-net.ts";
import type { SyscallResult } from "./syscall-types.ts";

/** The socket syscalls called directly on a process of a kernel with one interface (a recording driver). */
const SA = DATA; // a sockaddr_in
const LEN = DATA + 0x20; // a socklen_t
const BUF = DATA + 0x100; // payloads
const NETIF = DATA + 0x80; // a struct vk_netif
const BAD = 0x3000_0000; // unmapped

function setup(): {
  k: Kernel;
  lwp: Lwp;
  sent: Uint8Array[];
  call: (f: Handler, ...a: number[]) => SyscallResult;
} {
  const sent: Uint8Array[] = [];
  const driver: Netif = {
    name: "eth0",
    mac: "02:00:00:00:00:01",
    address: "10.0.0.1",
    prefixLength: 24,
    mtu: 1500,
    transmit: (f) => sent.push(f.slice()),
  };
  const k = createKernel({ netifs: [driver] });
  const pid = spawnCode(k, [0x00100073]);
  const lwp = k.lwps.get(pid) as Lwp;
  const call = (f: Handler, ...a: number[]) =>
    f(
      k,
      lwp,
      [...a, 0, 0, 0, 0, 0, 0].slice(0, 6).map((x) => x >>> 0),
    );
  return { k, lwp, sent, call };
}
type Handler = (k: Kernel, lwp: Lwp, a: readonly number[]) => SyscallResult;

function putAddr(lwp: Lwp, address: string, port: number, family = 2): void {
  const sa = encodeSockaddrIn(address, port);
  new DataView(sa.buffer).setUint16(0, family, true);
  lwp.proc.vm.poke(SA, sa);
}
const putLen = (lwp: Lwp, n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  lwp.proc.vm.poke(LEN, b);
};
const getLen = (lwp: Lwp) =>
  new DataView((lwp.proc.vm.copyin(LEN, 4) as Uint8Array).buffer).getInt32(0, true);
const getAddr = (lwp: Lwp) => decodeSockaddrIn(lwp.proc.vm.copyin(SA, 16) as Uint8Array);
const text = (s: string) => new TextEncoder().encode(s);

describe("socket", () => {
  it("makes AF_INET/SOCK_DGRAM sockets and refuses everything else", () => {
    const { lwp, call } = setup();
    expect(call(sys_socket, 10, 2, 0)).toBe(-EAFNOSUPPORT);
    expect(call(sys_socket, 2, 1, 0)).toBe(-EPROTONOSUPPORT);
    expect(call(sys_socket, 2, 2, 6)).toBe(-EPROTONOSUPPORT);
    expect(call(sys_socket, 2, 2, 17)).toBe(3);
    expect(call(sys_socket, 2, 2 | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)).toBe(4);
    expect(lwp.proc.fds.get(4)?.flags).toBe(2 | 0x800);
    expect(lwp.proc.fds.slots[4]?.cloexec).toBe(true);
    expect(lwp.proc.fds.get(3)?.ops.kind).toBe("socket");
  });
});

describe("bind and getsockname", () => {
  it("binds any, own and loopback addresses; refuses the rest with Linux's errors", () => {
    const { k, lwp, call } = setup();
    const s = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "0.0.0.0", 7);
    expect(call(sys_bind, s, SA, 8)).toBe(-EINVAL);
    expect(call(sys_bind, s, BAD, 16)).toBe(-EFAULT);
    expect(call(sys_bind, 0, SA, 16)).toBe(-ENOTSOCK);
    expect(call(sys_bind, 99, SA, 16)).toBe(-EBADF);
    putAddr(lwp, "0.0.0.0", 7, 10);
    expect(call(sys_bind, s, SA, 16)).toBe(-EAFNOSUPPORT);
    putAddr(lwp, "10.0.0.9", 7);
    expect(call(sys_bind, s, SA, 16)).toBe(-EADDRNOTAVAIL);
    putAddr(lwp, "10.0.0.1", 7);
    expect(call(sys_bind, s, SA, 16)).toBe(0);
    expect(call(sys_bind, s, SA, 16)).toBe(-EINVAL); // already bound
    const t = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "127.0.0.1", 7);
    expect(call(sys_bind, t, SA, 16)).toBe(-EADDRINUSE);
    putAddr(lwp, "127.0.0.1", 0);
    expect(call(sys_bind, t, SA, 16)).toBe(0);
    putLen(lwp, 16);
    expect(call(sys_getsockname, t, SA, LEN)).toBe(0);
    expect(getAddr(lwp)).toEqual({ family: 2, address: "127.0.0.1", port: 49152 });
    expect(getLen(lwp)).toBe(16);
    expect(k.net.boundPorts()).toEqual([7, 49152]);
    // closing frees the port
    expect(call(sys_close, s)).toBe(0);
    expect(k.net.boundPorts()).toEqual([49152]);
  });

  it("getsockname of an unbound socket is 0.0.0.0:0, truncated to the caller's length", () => {
    const { lwp, call } = setup();
    const s = call(sys_socket, 2, 2, 0) as number;
    lwp.proc.vm.poke(SA, new Uint8Array(16).fill(0xee));
    putLen(lwp, 4);
    expect(call(sys_getsockname, s, SA, LEN)).toBe(0);
    expect([...(lwp.proc.vm.copyin(SA, 6) as Uint8Array)]).toEqual([2, 0, 0, 0, 0xee, 0xee]);
    expect(getLen(lwp)).toBe(16);
    putLen(lwp, -1);
    expect(call(sys_getsockname, s, SA, LEN)).toBe(-EINVAL);
    expect(call(sys_getsockname, s, SA, BAD)).toBe(-EFAULT);
  });
});

describe("sendto and recvfrom", () => {
  it("delivers through loopback with the source address, blocking and non-blocking", () => {
    const { lwp, call } = setup();
    const rx = call(sys_socket, 2, 2, 0) as number;
    const tx = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "0.0.0.0", 5000);
    expect(call(sys_bind, rx, SA, 16)).toBe(0);
    // nothing queued: a blocking receiver sleeps on the port's channel (restartable), else EAGAIN
    expect(call(sys_recvfrom, rx, BUF, 100, 0, 0, 0)).toEqual({
      sleep: "udp:5000",
      deadline: null,
      mode: "retry",
    });
    expect(call(sys_recvfrom, rx, BUF, 100, MSG_DONTWAIT, 0, 0)).toBe(-EAGAIN);
    lwp.proc.vm.poke(BUF, text("hello world"));
    putAddr(lwp, "127.0.0.1", 5000);
    expect(call(sys_sendto, tx, BUF, 11, 0, SA, 16)).toBe(11);
    expect(call(sys_sendto, tx, BUF, 5, 0, SA, 16)).toBe(5);
    putLen(lwp, 16);
    expect(call(sys_recvfrom, rx, BUF + 0x100, 100, MSG_PEEK, SA, LEN)).toBe(11);
    expect(call(sys_recvfrom, rx, BUF + 0x100, 4, MSG_TRUNC, SA, LEN)).toBe(11);
    expect(new TextDecoder().decode(lwp.proc.vm.copyin(BUF + 0x100, 4) as Uint8Array)).toBe("hell");
    expect(getAddr(lwp)).toEqual({ family: 2, address: "127.0.0.1", port: 49152 });
    expect(call(sys_ioctl, rx, 0x541b, LEN)).toBe(0);
    expect(getLen(lwp)).toBe(5);
    expect(call(sys_read, rx, BUF + 0x200, 100)).toBe(5);
    expect(call(sys_ioctl, rx, 0x541b, LEN)).toBe(0);
    expect(getLen(lwp)).toBe(0);
    // FIONBIO makes the socket non-blocking
    putLen(lwp, 1);
    expect(call(sys_ioctl, rx, 0x5421, LEN)).toBe(0);
    expect(call(sys_recvfrom, rx, BUF, 100, 0, 0, 0)).toBe(-EAGAIN);
    expect(call(sys_read, rx, BUF, 100)).toBe(-EAGAIN);
  });

  it("refuses what it cannot send with Linux's errors", () => {
    const { lwp, call } = setup();
    const s = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "10.0.0.2", 7);
    expect(call(sys_sendto, s, BUF, 4, 0, 0, 0)).toBe(-EDESTADDRREQ);
    expect(call(sys_write, s, BUF, 4)).toBe(-EDESTADDRREQ);
    expect(call(sys_sendto, s, BUF, 4, 0x1, SA, 16)).toBe(-EOPNOTSUPP);
    expect(call(sys_sendto, s, BUF, 4, 0, SA, 15)).toBe(-EINVAL);
    expect(call(sys_sendto, s, BAD, 4, 0, SA, 16)).toBe(-EFAULT);
    expect(call(sys_sendto, s, BUF, 1473, 0, SA, 16)).toBe(-EMSGSIZE); // 1473 + 28 > MTU 1500
    expect(call(sys_sendto, s, BUF, 1472, 0, SA, 16)).toBe(1472);
    putAddr(lwp, "127.0.0.1", 7);
    expect(call(sys_sendto, s, BUF, 65508, 0, SA, 16)).toBe(-EMSGSIZE);
    putAddr(lwp, "192.168.1.1", 7);
    expect(call(sys_sendto, s, BUF, 4, 0, SA, 16)).toBe(-ENETUNREACH);
    putAddr(lwp, "10.0.0.2", 0);
    expect(call(sys_sendto, s, BUF, 4, 0, SA, 16)).toBe(-EINVAL);
    expect(call(sys_recvfrom, s, BUF, 4, 0x100, 0, 0)).toBe(-EOPNOTSUPP);
  });

  it("resolves a peer with ARP before sending, and broadcasts without it", () => {
    const { lwp, sent, call } = setup();
    const s = call(sys_socket, 2, 2, 0) as number;
    lwp.proc.vm.poke(BUF, text("hi"));
    putAddr(lwp, "10.0.0.2", 7);
    expect(call(sys_sendto, s, BUF, 2, 0, SA, 16)).toBe(2);
    expect(sent).toHaveLength(1);
    expect(decodeArpFrame(sent[0]!)).toMatchObject({ op: 1, senderIp: "10.0.0.1", targetIp: "10.0.0.2" });
    putAddr(lwp, "10.0.0.255", 9);
    expect(call(sys_sendto, s, BUF, 2, 0, SA, 16)).toBe(2);
    expect(decodeUdpFrame(sent[1]!)).toMatchObject({
      dstMac: "ff:ff:ff:ff:ff:ff",
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.255",
      srcPort: 49152,
      dstPort: 9,
    });
  });

  it("drops datagrams beyond a full receive queue and counts them", () => {
    const { k, lwp, call } = setup();
    const rx = call(sys_socket, 2, 2, 0) as number;
    const tx = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "0.0.0.0", 6000);
    call(sys_bind, rx, SA, 16);
    putAddr(lwp, "10.0.0.1", 6000);
    for (let i = 0; i < SOCKET_MAX_QUEUE + 3; i++) expect(call(sys_sendto, tx, BUF, 8, 0, SA, 16)).toBe(8);
    const socket = k.net.boundSocket(6000)!;
    expect(socket.queue).toHaveLength(SOCKET_MAX_QUEUE);
    expect(socket.dropped).toBe(3);
    expect(k.net.loopbackDropped).toBe(3);
  });
});

describe("netif_get and netif_set", () => {
  it("reads and changes an interface", () => {
    const { k, lwp, call } = setup();
    expect(call(sys_netif_get, 1, NETIF)).toBe(-ENODEV);
    expect(call(sys_netif_get, 0, BAD)).toBe(-EFAULT);
    expect(call(sys_netif_get, 0, NETIF)).toBe(0);
    const b = lwp.proc.vm.copyin(NETIF, VK_NETIF_SIZE) as Uint8Array;
    const v = new DataView(b.buffer);
    expect(new TextDecoder().decode(b.subarray(0, 4))).toBe("eth0");
    expect(b[4]).toBe(0);
    expect([...b.subarray(16, 22)]).toEqual([2, 0, 0, 0, 0, 1]);
    expect(v.getUint16(22, true)).toBe(1500);
    expect([...b.subarray(24, 32)]).toEqual([10, 0, 0, 1, 255, 255, 255, 0]);
    expect(v.getUint32(32, true)).toBe(1);
    // set 10.5.0.7/16, down
    b.set([10, 5, 0, 7, 255, 255, 0, 0], 24);
    v.setUint32(32, 0, true);
    lwp.proc.vm.poke(NETIF, b);
    expect(call(sys_netif_set, 0, NETIF)).toBe(0);
    const eth0 = k.net.netifs[0]!;
    expect([eth0.address, eth0.prefixLength, eth0.up]).toEqual(["10.5.0.7", 16, false]);
    const s = call(sys_socket, 2, 2, 0) as number;
    putAddr(lwp, "10.5.9.9", 7);
    expect(call(sys_sendto, s, BUF, 1, 0, SA, 16)).toBe(-ENETUNREACH); // down
    v.setUint32(32, 1, true);
    b.set([255, 0, 255, 0], 28);
    lwp.proc.vm.poke(NETIF, b);
    expect(call(sys_netif_set, 0, NETIF)).toBe(-EINVAL);
    expect(call(sys_netif_set, 3, NETIF)).toBe(-ENODEV);
    lwp.proc.cred.euid = 1000;
    expect(call(sys_netif_set, 0, NETIF)).toBe(-EPERM);
  });
});

describe("a blocked recvfrom and signals", () => {
  /** Binds port 5000, blocks in recvfrom with a SIGUSR1 handler (flags), stores the result at DATA+0x40. */
  function blockedReceiver(flags: number): { k: Kernel; pid: number } {
    const k = createKernel();
    const a = new Asm()
      .emit(la(5, "handler"), li(6, DATA), sw(5, 6, 0))
      .emit(sys(134, 10, DATA, 0, 8))
      .emit(sys(198, 2, 2, 0))
      .emit(sys(200, 3, DATA + 0x20, 16))
      .emit(sys(207, 3, DATA + 0x100, 64, 0, 0, 0))
      .emit(li(5, DATA + 0x40), sw(10, 5, 0))
      .emit(sys(93, 0))
      .org(0x400)
      .label("handler")
      .emit(jalr(0, 1, 0));
    const d = new Uint8Array(0x100);
    new DataView(d.buffer).setUint32(4, flags, true);
    d.set(encodeSockaddrIn("0.0.0.0", 5000), 0x20);
    const code = words([a.words()]);
    const pid = k.spawnImage(
      { path: "/t", argv: ["t"] },
      {
        entry: a.base,
        segments: [
          { vaddr: a.base, memsz: code.length, data: code, prot: 5 },
          { vaddr: DATA, memsz: 0x10000, data: d, prot: 3 },
        ],
      },
    );
    expect(k.runSync({ maxInstructions: 1_000_000 }).reason).toBe("deadlock");
    expect(k.lwps.get(pid)?.wchan).toBe("udp:5000");
    return { k, pid };
  }

  it("a handler without SA_RESTART ends it with -EINTR", () => {
    const { k, pid } = blockedReceiver(0);
    k.signalProcess(pid, 10);
    expect(k.runSync({ maxInstructions: 1_000_000 }).reason).toBe("exited");
    expect((k.procs.get(pid)?.vm.readU32(DATA + 0x40) ?? 0) | 0).toBe(-4);
  });

  it("with SA_RESTART it sleeps again and then receives", () => {
    const { k, pid } = blockedReceiver(0x10000000);
    k.signalProcess(pid, 10);
    expect(k.runSync({ maxInstructions: 1_000_000 }).reason).toBe("deadlock");
    expect(k.net.sendto(k.net.newSocket(), "127.0.0.1", 5000, text("hello"))).toBe(5);
    expect(k.runSync({ maxInstructions: 1_000_000 }).reason).toBe("exited");
    expect(k.procs.get(pid)?.vm.readU32(DATA + 0x40)).toBe(5);
  });
});
