import { EPIPE } from "../syscall/errno.ts";
import {
  type Block,
  blockOn,
  type DeviceHost,
  type FileOps,
  type IoResult,
  POLLHUP,
  POLLIN,
  POLLOUT,
} from "./file-types.ts";

export const PIPE_BUF_SIZE = 64 * 1024;
/** Writes up to this size are atomic (all or block). */
export const PIPE_BUF = 4096;

/**
 * A pipe: a 64 KiB ring buffer, counts of open read and write ends. Readers sleep on
 * `pipe:<id>:r`, writers on `pipe:<id>:w`.
 */
export class Pipe {
  readonly buf = new Uint8Array(PIPE_BUF_SIZE);
  head = 0;
  length = 0;
  readers = 0;
  writers = 0;

  constructor(
    readonly id: number,
    readonly host: DeviceHost,
  ) {}

  get readChan(): string {
    return `pipe:${this.id}:r`;
  }

  get writeChan(): string {
    return `pipe:${this.id}:w`;
  }

  /** The bytes currently buffered (for checkpoints and tests). */
  contents(): Uint8Array {
    const out = new Uint8Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.buf[(this.head + i) % PIPE_BUF_SIZE] as number;
    return out;
  }
}

/** The read end. */
export class PipeReadOps implements FileOps {
  readonly kind = "pipe";
  readonly end = "r";
  constructor(readonly pipe: Pipe) {
    pipe.readers += 1;
  }

  read(_file: unknown, out: Uint8Array): IoResult {
    const p = this.pipe;
    if (out.length === 0) return 0;
    if (p.length === 0) return p.writers === 0 ? 0 : blockOn(p.readChan);
    const n = Math.min(out.length, p.length);
    for (let i = 0; i < n; i++) out[i] = p.buf[(p.head + i) % PIPE_BUF_SIZE] as number;
    p.head = (p.head + n) % PIPE_BUF_SIZE;
    p.length -= n;
    p.host.wakeup(p.writeChan);
    return n;
  }

  write(): number {
    return -9; // EBADF: not open for writing
  }

  poll(): number {
    const p = this.pipe;
    return (p.length > 0 ? POLLIN : 0) | (p.writers === 0 ? POLLHUP : 0);
  }

  close(): void {
    this.pipe.readers -= 1;
    this.pipe.host.wakeup(this.pipe.writeChan);
  }
}

/** The write end. */
export class PipeWriteOps implements FileOps {
  readonly kind = "pipe";
  readonly end = "w";
  constructor(readonly pipe: Pipe) {
    pipe.writers += 1;
  }

  read(): number {
    return -9; // EBADF
  }

  write(_file: unknown, data: Uint8Array): number | Block {
    const p = this.pipe;
    if (p.readers === 0) return -EPIPE;
    if (data.length === 0) return 0;
    const space = PIPE_BUF_SIZE - p.length;
    if (space === 0 || (data.length <= PIPE_BUF && space < data.length)) return blockOn(p.writeChan);
    const n = Math.min(space, data.length);
    for (let i = 0; i < n; i++) p.buf[(p.head + p.length + i) % PIPE_BUF_SIZE] = data[i] as number;
    p.length += n;
    p.host.wakeup(p.readChan);
    return n;
  }

  poll(): number {
    const p = this.pipe;
    return (PIPE_BUF_SIZE - p.length >= PIPE_BUF ? POLLOUT : 0) | (p.readers === 0 ? 0x8 : 0);
  }

  close(): void {
    this.pipe.writers -= 1;
    this.pipe.host.wakeup(this.pipe.readChan);
  }
}
