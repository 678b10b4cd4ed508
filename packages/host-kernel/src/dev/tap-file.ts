/**
 * The file-description side of a tap: what read/write/ioctl/poll/close on an open /dev/tapN do.
 *
 * - read: one frame per call. A buffer shorter than the frame gets its head and the rest is
 *   discarded (BSD tap). With nothing queued it blocks on the tap's rx channel (the kernel turns
 *   that into EAGAIN under O_NONBLOCK). A zero-length read returns 0 at once.
 * - write: one frame per call, stamped with the kernel's virtual time. EINVAL for a frame that is
 *   not valid Ethernet II or longer than MTU + 14, EIO while the interface is down; a tap that is
 *   not plugged into a bridge accepts and drops (counted). A zero-length write returns 0.
 * - ioctl: see tap-ioctl.ts. poll: POLLIN when a frame is queued; POLLOUT always.
 */

import {
  blockOn,
  type DeviceHost,
  type FileCaller,
  type FileOps,
  type IoResult,
  O_NONBLOCK,
  type OpenFileState,
  POLLIN,
  POLLOUT,
} from "../fs/file-types.ts";
import { EINVAL, ENOTTY } from "../syscall/errno.ts";
import { formatMac } from "./net-frame.ts";
import { formatIpv4Address, parseIpv4Address } from "./net-ipv4.ts";
import type { TapDevice, TapSnapshot } from "./tap.ts";
import {
  decodeIfName,
  encodeIfName,
  FIONBIO,
  FIONREAD,
  IFF_UP,
  IFNAMSIZ,
  IFT_ETHER,
  TAPGBRIDGE,
  TAPGHWADDR,
  TAPGIFFLAGS,
  TAPGIFINFO,
  TAPGIFNAME,
  TAPGINADDR,
  TAPGSTATS,
  TAPINFO_SIZE,
  TAPSBRIDGE,
  TAPSHWADDR,
  TAPSIFFLAGS,
  TAPSIFINFO,
  TAPSINADDR,
  TAPSQLEN,
} from "./tap-ioctl.ts";

export class TapFile implements FileOps {
  readonly kind = "tap";
  readonly device: TapDevice;
  readonly #host: DeviceHost;

  constructor(device: TapDevice, host: DeviceHost) {
    this.device = device;
    this.#host = host;
  }

  read(_file: OpenFileState, buf: Uint8Array, _caller: FileCaller): IoResult {
    if (buf.length === 0) return 0;
    const frame = this.device.dequeue();
    if (frame === undefined) return blockOn(this.device.rxChannel);
    const n = Math.min(buf.length, frame.length);
    buf.set(frame.subarray(0, n));
    return n;
  }

  write(_file: OpenFileState, data: Uint8Array, _caller: FileCaller): IoResult {
    return this.device.transmit(data, this.#host.now());
  }

  ioctl(file: OpenFileState, request: number, arg: number, caller: FileCaller): IoResult {
    const dev = this.device;
    const cfg = dev.config;
    const input = (len: number, apply: (bytes: Uint8Array, view: DataView) => number): number => {
      const bytes = caller.copyin(arg, len);
      if (typeof bytes === "number") return bytes;
      return apply(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    };
    const output = (len: number, fill: (bytes: Uint8Array, view: DataView) => void): number => {
      const bytes = new Uint8Array(len);
      fill(bytes, new DataView(bytes.buffer));
      return caller.copyout(arg, bytes);
    };

    switch (request >>> 0) {
      case TAPGIFINFO:
        return output(TAPINFO_SIZE, (_, v) => {
          v.setUint32(0, cfg.baudrate, true);
          v.setUint16(4, cfg.mtu, true);
          v.setUint8(6, IFT_ETHER);
        });
      case TAPSIFINFO:
        return input(TAPINFO_SIZE, (_, v) => {
          const status = dev.setMtu(v.getUint16(4, true));
          if (status === 0) cfg.baudrate = v.getUint32(0, true);
          return status;
        });
      case TAPGIFNAME:
        return output(IFNAMSIZ, (b) => b.set(encodeIfName(dev.name)));
      case TAPGHWADDR:
        return output(6, (b) => b.set(Uint8Array.from(cfg.mac.split(":"), (x) => Number.parseInt(x, 16))));
      case TAPSHWADDR:
        return input(6, (b) => dev.setMac(formatMac(b)));
      case TAPGINADDR:
        return output(8, (_, v) => {
          v.setUint32(0, parseIpv4Address(cfg.inetAddr));
          v.setUint32(4, parseIpv4Address(cfg.inetMask));
        });
      case TAPSINADDR:
        return input(8, (_, v) =>
          dev.setInet(formatIpv4Address(v.getUint32(0)), formatIpv4Address(v.getUint32(4))),
        );
      case TAPGIFFLAGS:
        return output(4, (_, v) => v.setUint32(0, cfg.up ? IFF_UP : 0, true));
      case TAPSIFFLAGS:
        return input(4, (_, v) => {
          dev.setUp((v.getUint32(0, true) & IFF_UP) !== 0);
          return 0;
        });
      case TAPGBRIDGE:
        return output(IFNAMSIZ, (b) => b.set(encodeIfName(cfg.bridge)));
      case TAPSBRIDGE:
        return input(IFNAMSIZ, (b) => dev.setBridge(decodeIfName(b)));
      case TAPGSTATS:
        return output(32, (_, v) => {
          const s = dev.stats;
          const words = [s.rxFrames, s.rxBytes, s.rxDropped, s.txFrames, s.txBytes, s.txDropped];
          words.push(dev.queue.length, cfg.maxQueue);
          for (const [i, w] of words.entries()) v.setUint32(i * 4, w >>> 0, true);
        });
      case TAPSQLEN:
        return input(4, (_, v) => dev.setMaxQueue(v.getUint32(0, true)));
      case FIONREAD:
        return output(4, (_, v) => v.setInt32(0, dev.queue[0]?.length ?? 0, true));
      case FIONBIO:
        return input(4, (_, v) => {
          file.flags = v.getInt32(0, true) !== 0 ? file.flags | O_NONBLOCK : file.flags & ~O_NONBLOCK;
          return 0;
        });
      default:
        return request === 0 ? -EINVAL : -ENOTTY;
    }
  }

  poll(_file: OpenFileState): number {
    return (this.device.queue.length > 0 ? POLLIN : 0) | POLLOUT;
  }

  close(_file: OpenFileState): void {
    this.device.close();
  }

  /** The device's config and queued frames (what a checkpoint saves for a tap descriptor). */
  snapshot(): TapSnapshot {
    return this.device.snapshot();
  }

  restore(s: TapSnapshot): void {
    this.device.restore(s);
  }
}

/** True when an open file's ops are a tap's. */
export function isTapFile(ops: FileOps): ops is TapFile {
  return ops instanceof TapFile;
}
