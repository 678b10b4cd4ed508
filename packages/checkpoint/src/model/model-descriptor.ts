import type { BlobRef } from "./model-values.ts";

export interface TermiosImage {
  readonly iflag: number;
  readonly oflag: number;
  readonly cflag: number;
  readonly lflag: number;
  /** Control characters (VINTR, VEOF, …, VCKPT), one byte each. */
  readonly cc: Uint8Array;
}

interface DescriptorBase {
  readonly fd: number;
  readonly cloexec: boolean;
}

export interface FileDescriptorImage extends DescriptorBase {
  readonly kind: "file";
  readonly path: string;
  /** Byte offset (up to 2^53-1). */
  readonly offset: number;
  /** Open flags (O_RDONLY, O_APPEND, …). */
  readonly flags: number;
  readonly mode: number;
}

export interface PipeDescriptorImage extends DescriptorBase {
  readonly kind: "pipe";
  /** Both ends of one pipe share a `pipeId` within the image. */
  readonly pipeId: number;
  readonly end: "read" | "write";
  /** Bytes buffered in the pipe: inline, or a blob for large buffers. Carried by the read end. */
  readonly buffered?: Uint8Array | BlobRef;
}

export interface TtyDescriptorImage extends DescriptorBase {
  readonly kind: "tty";
  readonly path: string;
  readonly termios: TermiosImage;
}

export interface TapDescriptorImage extends DescriptorBase {
  readonly kind: "tap";
  readonly name: string;
  /** IPv4 address, 4 bytes. */
  readonly address: Uint8Array;
  readonly prefixLength: number;
  readonly mtu: number;
  /** 6 bytes. */
  readonly mac: Uint8Array;
  /** Frames queued on the interface, oldest first. */
  readonly queued: readonly Uint8Array[];
}

/** A datagram queued on a socket, with its source (format 1.2). */
export interface SocketDatagramImage {
  /** Source IPv4 address, 4 bytes. */
  readonly address: Uint8Array;
  readonly port: number;
  readonly payload: Uint8Array;
}

/** A UDP socket (AF_INET, SOCK_DGRAM) with its receive queue (format 1.2). */
export interface SocketDescriptorImage extends DescriptorBase {
  readonly kind: "socket";
  /** AF_INET (2): the only domain so far. */
  readonly domain: number;
  /** SOCK_DGRAM (2): the only type so far. */
  readonly type: number;
  /** Bound local IPv4 address, 4 bytes (0.0.0.0: any). */
  readonly address: Uint8Array;
  /** Bound local port (0: not bound). */
  readonly port: number;
  /** O_NONBLOCK on the open file. */
  readonly nonblocking: boolean;
  /** Datagrams waiting to be received, oldest first. */
  readonly queued: readonly SocketDatagramImage[];
  /** Datagrams the socket dropped because its queue was full. */
  readonly dropped?: number;
}

export type DescriptorImage =
  | FileDescriptorImage
  | PipeDescriptorImage
  | TtyDescriptorImage
  | TapDescriptorImage
  | SocketDescriptorImage;
