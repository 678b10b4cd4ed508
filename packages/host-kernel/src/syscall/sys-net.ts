/**
 * UDP sockets and network interfaces (NETWORK.md "Sockets"): socket 198, bind 200,
 * getsockname 204, sendto 206, recvfrom 207 with Linux's numbers and conventions (so the same
 * programs run under qemu-riscv32), and the vkc-only netif_get 520 / netif_set 521. read, write,
 * ioctl (FIONBIO, FIONREAD), poll and close reach a socket through the descriptor table.
 */

import { formatIpv4Address, parseIpv4Address } from "../dev/net-ipv4.ts";
import { newOpenFile } from "../fs/fd-table.ts";
import { O_NONBLOCK, O_RDWR, type OpenFile } from "../fs/file-types.ts";
import type { Kernel } from "../kernel.ts";
import { UDP_MAX_PAYLOAD } from "../net/net-stack.ts";
import { IFF_UP, maskPrefix, type NetifState, prefixMask } from "../net/netif.ts";
import {
  AF_INET,
  decodeSockaddrIn,
  encodeSockaddrIn,
  SOCKADDR_IN_SIZE,
  type SockaddrIn,
} from "../net/sockaddr.ts";
import { isUdpSocket, type UdpSocket } from "../net/socket.ts";
import type { Lwp } from "../proc/proc-types.ts";
import {
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EDESTADDRREQ,
  EFAULT,
  EINVAL,
  EMSGSIZE,
  ENODEV,
  ENOTSOCK,
  EOPNOTSUPP,
  EPERM,
  EPROTONOSUPPORT,
} from "./errno.ts";
import { type SyscallArgs, type SyscallResult, sleepOn } from "./syscall-types.ts";

export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;
export const IPPROTO_UDP = 17;
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
/** `struct vk_netif`: name[16] @0, mac[6] @16, u16 mtu @22, addr[4] @24, mask[4] @28, u32 flags @32, u32 stats[8] @36. */
export const VK_NETIF_SIZE = 68;
/** The part of `struct vk_netif` netif_set reads (up to and including flags). */
const VK_NETIF_SET_SIZE = 36;

function socketOf(lwp: Lwp, fd: number): { file: OpenFile; socket: UdpSocket } | number {
  const file = lwp.proc.fds.get(fd | 0);
  if (file === null) return -EBADF;
  if (!isUdpSocket(file.ops)) return -ENOTSOCK;
  return { file, socket: file.ops };
}

/** Read an `int` length through a user pointer: the value, or -EFAULT / -EINVAL (negative). */
function readLength(lwp: Lwp, addr: number): number {
  const b = lwp.proc.vm.copyin(addr, 4);
  if (typeof b === "number") return -EFAULT;
  const n = new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  return n < 0 ? -EINVAL : n;
}

/** Store a sockaddr_in through (addr, lenp) the way Linux does: truncated to *lenp, *lenp = 16. */
function storeAddress(lwp: Lwp, addr: number, lenp: number, address: string, port: number): number {
  const len = readLength(lwp, lenp);
  if (len < 0) return len;
  const vm = lwp.proc.vm;
  const sa = encodeSockaddrIn(address, port);
  if (len > 0 && vm.copyout(addr, sa.subarray(0, Math.min(len, SOCKADDR_IN_SIZE))) !== 0) return -EFAULT;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, SOCKADDR_IN_SIZE, true);
  return vm.copyout(lenp, out) === 0 ? 0 : -EFAULT;
}

/** Read a sockaddr_in argument: it, or -errno. */
function loadAddress(lwp: Lwp, addr: number, len: number): SockaddrIn | number {
  if ((len | 0) < SOCKADDR_IN_SIZE) return -EINVAL;
  const b = lwp.proc.vm.copyin(addr, SOCKADDR_IN_SIZE);
  if (typeof b === "number") return -EFAULT;
  const sa = decodeSockaddrIn(b);
  return sa.family === AF_INET ? sa : -EAFNOSUPPORT;
}

/** socket(domain, type, protocol): AF_INET + SOCK_DGRAM (| SOCK_NONBLOCK | SOCK_CLOEXEC), protocol 0 or 17. */
export function sys_socket(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [domain, type, protocol] = a as [number, number, number];
  if (domain !== AF_INET) return -EAFNOSUPPORT;
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== SOCK_DGRAM) return -EPROTONOSUPPORT;
  if (protocol !== 0 && protocol !== IPPROTO_UDP) return -EPROTONOSUPPORT;
  const socket = k.net.newSocket();
  const file = newOpenFile(socket, O_RDWR | ((type & SOCK_NONBLOCK) !== 0 ? O_NONBLOCK : 0));
  const fd = lwp.proc.fds.install(file, (type & SOCK_CLOEXEC) !== 0);
  if (fd < 0) socket.close(file);
  return fd;
}

/** bind(fd, const struct sockaddr_in *, len). */
export function sys_bind(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, addr, len] = a as [number, number, number];
  const s = socketOf(lwp, fd);
  if (typeof s === "number") return s;
  const sa = loadAddress(lwp, addr, len);
  if (typeof sa === "number") return sa;
  return k.net.bind(s.socket, sa.address, sa.port);
}

/** getsockname(fd, struct sockaddr_in *, socklen_t *): 0.0.0.0:0 before a bind. */
export function sys_getsockname(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, addr, lenp] = a as [number, number, number];
  const s = socketOf(lwp, fd);
  if (typeof s === "number") return s;
  return storeAddress(lwp, addr, lenp, s.socket.localAddress, s.socket.localPort);
}

/** sendto(fd, buf, len, flags, const struct sockaddr_in *, addrlen): len, or -errno. */
export function sys_sendto(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, buf, len, flags, addr, addrlen] = a as [number, number, number, number, number, number];
  const s = socketOf(lwp, fd);
  if (typeof s === "number") return s;
  if ((flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL)) !== 0) return -EOPNOTSUPP;
  if (addr === 0) return -EDESTADDRREQ;
  const sa = loadAddress(lwp, addr, addrlen);
  if (typeof sa === "number") return sa;
  if ((len | 0) < 0) return -EINVAL;
  if (len > UDP_MAX_PAYLOAD) return -EMSGSIZE;
  const data = lwp.proc.vm.copyin(buf, len);
  if (typeof data === "number") return -EFAULT;
  return k.net.sendto(s.socket, sa.address, sa.port, data);
}

/**
 * recvfrom(fd, buf, len, flags, struct sockaddr_in *, socklen_t *): one datagram (truncated to
 * len; MSG_TRUNC returns its real length), its source in the address when given. Blocks
 * (restartable like read) unless O_NONBLOCK or MSG_DONTWAIT (-EAGAIN); MSG_PEEK leaves it queued.
 */
export function sys_recvfrom(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, buf, len, flags, addr, lenp] = a as [number, number, number, number, number, number];
  const s = socketOf(lwp, fd);
  if (typeof s === "number") return s;
  if ((flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC)) !== 0) return -EOPNOTSUPP;
  if ((len | 0) < 0) return -EINVAL;
  const { file, socket } = s;
  const head = socket.queue[0];
  if (head === undefined) {
    if ((file.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0) return -EAGAIN;
    return sleepOn(socket.rxChannel, null, "retry");
  }
  const n = Math.min(len, head.payload.length);
  if (n > 0 && lwp.proc.vm.copyout(buf, head.payload.subarray(0, n)) !== 0) return -EFAULT;
  if (addr !== 0) {
    const r = storeAddress(lwp, addr, lenp, head.address, head.port);
    if (r < 0) return r;
  }
  if ((flags & MSG_PEEK) === 0) socket.dequeue();
  return (flags & MSG_TRUNC) !== 0 ? head.payload.length : n;
}

/** The `struct vk_netif` of an interface. */
export function encodeVkNetif(n: NetifState): Uint8Array {
  const out = new Uint8Array(VK_NETIF_SIZE);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode(n.name).subarray(0, 15), 0);
  out.set(
    Uint8Array.from(n.mac.split(":"), (x) => Number.parseInt(x, 16)),
    16,
  );
  v.setUint16(22, n.mtu, true);
  v.setUint32(24, parseIpv4Address(n.address));
  v.setUint32(28, prefixMask(n.prefixLength));
  v.setUint32(32, n.up ? IFF_UP : 0, true);
  n.statsWords().forEach((w, i) => {
    v.setUint32(36 + 4 * i, w >>> 0, true);
  });
  return out;
}

/** netif_get(index, struct vk_netif *): 0, -ENODEV (no such interface), -EFAULT. */
export function sys_netif_get(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [index, ptr] = a as [number, number];
  const n = k.net.netifs[index];
  if (n === undefined) return -ENODEV;
  return lwp.proc.vm.copyout(ptr, encodeVkNetif(n)) === 0 ? 0 : -EFAULT;
}

/**
 * netif_set(index, const struct vk_netif *): sets address, mask and IFF_UP from the struct (the
 * other fields are ignored). -ENODEV, -EFAULT, -EINVAL (non-contiguous mask), -EPERM (not root).
 */
export function sys_netif_set(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [index, ptr] = a as [number, number];
  const n = k.net.netifs[index];
  if (n === undefined) return -ENODEV;
  if (lwp.proc.cred.euid !== 0) return -EPERM;
  const b = lwp.proc.vm.copyin(ptr, VK_NETIF_SET_SIZE);
  if (typeof b === "number") return -EFAULT;
  const v = new DataView(b.buffer, b.byteOffset, VK_NETIF_SET_SIZE);
  const prefix = maskPrefix(v.getUint32(28));
  if (prefix < 0) return -EINVAL;
  n.configure(formatIpv4Address(v.getUint32(24)), prefix);
  n.up = (v.getUint32(32, true) & IFF_UP) !== 0;
  return 0;
}
