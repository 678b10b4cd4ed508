/**
 * A UDP socket (AF_INET, SOCK_DGRAM) as an open file: the local address it is bound to and its
 * bounded receive queue of datagrams with their source addresses. sendto/recvfrom/bind are in
 * syscall/sys-net.ts; read/write/ioctl/poll/close come here through the descriptor table:
 *
 * - read: one datagram per call (recvfrom without the address); a shorter buffer gets its head
 *   and the rest is discarded. With nothing queued it blocks on `rxChannel` (-EAGAIN under
 *   O_NONBLOCK) and is restartable like any read.
 * - write: -EDESTADDRREQ (a socket is never connected here: use sendto).
 * - ioctl: FIONREAD (length of the next datagram, 0 when none), FIONBIO; else -ENOTTY.
 * - poll: POLLIN when a datagram is queued; POLLOUT always.
 * - close (last descriptor): unbinds the port and wakes anyone still sleeping on it.
 */

import { FIONBIO, FIONREAD } from "../dev/tap-ioctl.ts";
import {
  blockOn,
  type FileCaller,
  type FileOps,
  type IoResult,
  O_NONBLOCK,
  type OpenFileState,
  POLLIN,
  POLLOUT,
  type WaitChannel,
} from "../fs/file-types.ts";
import { EDESTADDRREQ, EINVAL, ENOTTY } from "../syscall/errno.ts";

/** Datagrams a socket queues before it drops (counted in `dropped` and the netif's udpQueueFull). */
export const SOCKET_MAX_QUEUE = 64;
/** Bytes a socket queues before it drops (like SO_RCVBUF). */
export const SOCKET_MAX_QUEUE_BYTES = 256 * 1024;

/** A queued datagram and where it came from. */
export interface SocketDatagram {
  /** Source IPv4 address, dotted quad. */
  readonly address: string;
  readonly port: number;
  readonly payload: Uint8Array;
}

/** Where the kernel keeps bound sockets (net-stack.ts); only `close` needs it. */
export interface SocketBinder {
  unbind(socket: UdpSocket): void;
}

export class UdpSocket implements FileOps {
  readonly kind = "socket";
  /** Bound local address ("0.0.0.0" = any) and port (0 = not bound yet). */
  localAddress = "0.0.0.0";
  localPort = 0;
  readonly queue: SocketDatagram[] = [];
  queuedBytes = 0;
  /** Datagrams dropped because the queue was full. */
  dropped = 0;
  closed = false;
  readonly #binder: SocketBinder;
  readonly #wakeup: (chan: WaitChannel) => void;

  constructor(binder: SocketBinder, wakeup: (chan: WaitChannel) => void) {
    this.#binder = binder;
    this.#wakeup = wakeup;
  }

  /** What a blocked receiver sleeps on: `udp:<port>`, or `udp:unbound` before a bind. */
  get rxChannel(): WaitChannel {
    return this.localPort === 0 ? UNBOUND_CHANNEL : `udp:${this.localPort}`;
  }

  /** Queue an arriving datagram; false (and counted) when the queue is full. */
  enqueue(d: SocketDatagram): boolean {
    if (
      this.queue.length >= SOCKET_MAX_QUEUE ||
      this.queuedBytes + d.payload.length > SOCKET_MAX_QUEUE_BYTES
    ) {
      this.dropped++;
      return false;
    }
    this.queue.push(d);
    this.queuedBytes += d.payload.length;
    this.#wakeup(this.rxChannel);
    return true;
  }

  /** Take the oldest datagram. */
  dequeue(): SocketDatagram | undefined {
    const d = this.queue.shift();
    if (d !== undefined) this.queuedBytes -= d.payload.length;
    return d;
  }

  read(_file: OpenFileState, buf: Uint8Array, _caller: FileCaller): IoResult {
    const head = this.queue[0];
    if (head === undefined) return blockOn(this.rxChannel);
    this.dequeue();
    const n = Math.min(buf.length, head.payload.length);
    buf.set(head.payload.subarray(0, n));
    return n;
  }

  write(): IoResult {
    return -EDESTADDRREQ;
  }

  ioctl(file: OpenFileState, request: number, arg: number, caller: FileCaller): IoResult {
    switch (request >>> 0) {
      case FIONREAD: {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, this.queue[0]?.payload.length ?? 0, true);
        return caller.copyout(arg, b);
      }
      case FIONBIO: {
        const b = caller.copyin(arg, 4);
        if (typeof b === "number") return b;
        const on = new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true) !== 0;
        file.flags = on ? file.flags | O_NONBLOCK : file.flags & ~O_NONBLOCK;
        return 0;
      }
      default:
        return request === 0 ? -EINVAL : -ENOTTY;
    }
  }

  poll(_file: OpenFileState): number {
    return (this.queue.length > 0 ? POLLIN : 0) | POLLOUT;
  }

  close(_file: OpenFileState): void {
    const chan = this.rxChannel;
    this.closed = true;
    this.#binder.unbind(this);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.#wakeup(chan);
  }
}

/** The channel of receivers on sockets with no port yet (woken by every bind). */
export const UNBOUND_CHANNEL: WaitChannel = "udp:unbound";

/** True when an open file's ops are a UDP socket's. */
export function isUdpSocket(ops: FileOps): ops is UdpSocket {
  return ops instanceof UdpSocket;
}
