/**
 * ioctl requests of a tap device, numbered with Linux's `_IOC` encoding (this ABI is Linux's:
 * dir << 30 | size << 16 | type << 8 | nr, with _IOC_WRITE = 1 and _IOC_READ = 2). TAPSIFINFO,
 * TAPGIFINFO and TAPGIFNAME keep DragonFly's names, group 't' and numbers (91, 92, 93); the others
 * are vkc's, in the same group from 94 up. Multi-byte integers in the argument structs are
 * little-endian (the guest's byte order) except IPv4 addresses, which are in network order as in
 * a sockaddr_in. Names are NUL-padded to IFNAMSIZ (16) bytes.
 */

const IOC_WRITE = 1;
const IOC_READ = 2;

function ioc(dir: number, type: string, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0;
}

export const IFNAMSIZ = 16;
/** struct tapinfo { u32 baudrate; u16 mtu; u8 type; u8 dummy; } */
export const TAPINFO_SIZE = 8;
/** Interface type reported in tapinfo.type (IFT_ETHER). */
export const IFT_ETHER = 6;
/** Interface flag: up (the only flag a tap honours). */
export const IFF_UP = 0x1;

/** Set MTU (and baudrate) from a struct tapinfo. */
export const TAPSIFINFO = ioc(IOC_WRITE, "t", 91, TAPINFO_SIZE);
/** Get struct tapinfo: baudrate, MTU, type IFT_ETHER. */
export const TAPGIFINFO = ioc(IOC_READ, "t", 92, TAPINFO_SIZE);
/** Get the interface name ("tap0"), NUL-padded to 16 bytes. */
export const TAPGIFNAME = ioc(IOC_READ, "t", 93, IFNAMSIZ);
/** Get the 6-byte MAC address. */
export const TAPGHWADDR = ioc(IOC_READ, "t", 94, 6);
/** Set the MAC address (unicast only). */
export const TAPSHWADDR = ioc(IOC_WRITE, "t", 95, 6);
/** Get { u8 addr[4]; u8 mask[4]; } (network byte order; 0.0.0.0 when unset). */
export const TAPGINADDR = ioc(IOC_READ, "t", 96, 8);
/** Set the IPv4 address and mask (the mask must be contiguous). */
export const TAPSINADDR = ioc(IOC_WRITE, "t", 97, 8);
/** Get u32 interface flags (IFF_UP). */
export const TAPGIFFLAGS = ioc(IOC_READ, "t", 98, 4);
/** Set u32 interface flags: IFF_UP brings the interface up, its absence down (flushing the queue). */
export const TAPSIFFLAGS = ioc(IOC_WRITE, "t", 99, 4);
/** Get the name of the bridge the tap is plugged into ("" when none), NUL-padded to 16 bytes. */
export const TAPGBRIDGE = ioc(IOC_READ, "t", 100, IFNAMSIZ);
/** Plug into the bridge of this name ("" unplugs): ENOENT no such bridge, EBUSY name clash. */
export const TAPSBRIDGE = ioc(IOC_WRITE, "t", 101, IFNAMSIZ);
/** Get struct tapstats: eight u32 (see TapStats order in tap.ts). */
export const TAPGSTATS = ioc(IOC_READ, "t", 102, 32);
/** Set the rx queue bound (u32, 1..4096). */
export const TAPSQLEN = ioc(IOC_WRITE, "t", 103, 4);
/** Linux FIONREAD: int length of the next queued frame, 0 when none (BSD tap semantics). */
export const FIONREAD = 0x541b;
/** Linux FIONBIO: int, non-zero sets O_NONBLOCK on the open file, zero clears it. */
export const FIONBIO = 0x5421;

/** Encode a name as IFNAMSIZ NUL-padded bytes. */
export function encodeIfName(name: string): Uint8Array {
  const out = new Uint8Array(IFNAMSIZ);
  out.set(new TextEncoder().encode(name).subarray(0, IFNAMSIZ - 1));
  return out;
}

/** Decode IFNAMSIZ NUL-padded bytes into a name (up to the first NUL). */
export function decodeIfName(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
}
