import {
  blockOn,
  type DeviceHost,
  type DeviceNode,
  type FileCaller,
  type FileOps,
  type IoResult,
  type OpenFileState,
  POLLIN,
  POLLOUT,
} from "../fs/file-types.ts";
import { SIGCKPT, SIGINT, SIGQUIT, SIGTSTP, SIGWINCH } from "../signal/signal-numbers.ts";
import { EINVAL, ENOTTY } from "../syscall/errno.ts";
import {
  decodeTermios,
  defaultTermios,
  ECHO,
  ECHOCTL,
  ECHOE,
  ECHOK,
  ECHONL,
  encodeTermios,
  FIONREAD,
  ICANON,
  ICRNL,
  IGNCR,
  INLCR,
  ISIG,
  NOFLSH,
  OCRNL,
  ONLCR,
  OPOST,
  TCGETS,
  TCSETS,
  TCSETSF,
  TCSETSW,
  TERMIOS_SIZE,
  type Termios,
  TIOCGPGRP,
  TIOCGWINSZ,
  TIOCSPGRP,
  TIOCSWINSZ,
  VCKPT,
  VEOF,
  VERASE,
  VINTR,
  VKILL,
  VMIN,
  VQUIT,
  VSUSP,
  VTIME,
} from "./tty-termios.ts";

export const TTY_INPUT_CHAN = "tty:console:in";

export interface Winsize {
  rows: number;
  cols: number;
  xpixel: number;
  ypixel: number;
}

/**
 * The console tty: line discipline (cooked: echo, erase, kill, EOF; raw: VMIN/VTIME), ISIG
 * characters (^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP, ^E VCKPT → SIGCKPT) sent to the foreground
 * process group, output post-processing (OPOST/ONLCR) to the console sink. Readers sleep on
 * TTY_INPUT_CHAN. One instance per kernel; every open of /dev/tty shares it. State is plain.
 */
export class Tty implements FileOps, DeviceNode {
  readonly kind = "tty";
  termios: Termios = defaultTermios();
  winsize: Winsize = { rows: 24, cols: 80, xpixel: 0, ypixel: 0 };
  /** Foreground process group (0 = none). */
  pgrp = 0;
  /** Canonical mode: completed lines (a line ended by EOF has no terminator; empty = EOF). */
  lines: number[][] = [];
  /** Canonical mode: the line being edited. */
  partial: number[] = [];
  /** Non-canonical mode: bytes available to read. */
  raw: number[] = [];

  constructor(readonly host: DeviceHost) {}

  open(): FileOps {
    return this;
  }

  private get canonical(): boolean {
    return (this.termios.lflag & ICANON) !== 0;
  }

  // ---- input (from the input script or a live terminal) ---------------------------------------

  input(bytes: Uint8Array): void {
    for (const b of bytes) this.inputByte(b);
    this.host.wakeup(TTY_INPUT_CHAN);
  }

  private inputByte(byte: number): void {
    const t = this.termios;
    let c = byte;
    if (c === 13) {
      if ((t.iflag & IGNCR) !== 0) return;
      if ((t.iflag & ICRNL) !== 0) c = 10;
    } else if (c === 10 && (t.iflag & INLCR) !== 0) c = 13;
    if ((t.lflag & ISIG) !== 0) {
      const sig =
        c === t.cc[VINTR]
          ? SIGINT
          : c === t.cc[VQUIT]
            ? SIGQUIT
            : c === t.cc[VSUSP]
              ? SIGTSTP
              : c === t.cc[VCKPT]
                ? SIGCKPT
                : 0;
      if (sig !== 0 && c !== 0) {
        if ((t.lflag & NOFLSH) === 0 && sig !== SIGCKPT) this.flushInput();
        this.echoChar(c);
        if (this.pgrp !== 0) this.host.signalProcessGroup(this.pgrp, sig);
        return;
      }
    }
    if (!this.canonical) {
      this.raw.push(c);
      this.echoChar(c);
      return;
    }
    if (c === t.cc[VERASE] && c !== 0) {
      if (this.partial.length > 0) {
        const gone = this.partial.pop() as number;
        if ((t.lflag & ECHO) !== 0 && (t.lflag & ECHOE) !== 0) {
          const cols = gone < 32 && (t.lflag & ECHOCTL) !== 0 ? 2 : 1;
          const bs: number[] = [];
          for (let i = 0; i < cols; i++) bs.push(8, 32, 8);
          this.output(new Uint8Array(bs));
        }
      }
      return;
    }
    if (c === t.cc[VKILL] && c !== 0) {
      const n = this.partial.length;
      this.partial = [];
      if ((t.lflag & ECHO) !== 0 && (t.lflag & ECHOK) !== 0) {
        const bs: number[] = [];
        for (let i = 0; i < n; i++) bs.push(8, 32, 8);
        this.output(new Uint8Array(bs));
      }
      return;
    }
    if (c === t.cc[VEOF] && c !== 0) {
      this.lines.push(this.partial);
      this.partial = [];
      return;
    }
    this.partial.push(c);
    if (c === 10) {
      this.lines.push(this.partial);
      this.partial = [];
      if ((t.lflag & ECHO) === 0 && (t.lflag & ECHONL) !== 0) this.output(new Uint8Array([10]));
    }
    this.echoChar(c);
  }

  private echoChar(c: number): void {
    const t = this.termios;
    if ((t.lflag & ECHO) === 0) return;
    if ((t.lflag & ECHOCTL) !== 0 && (c < 32 || c === 127) && c !== 10 && c !== 9 && c !== 13) {
      this.output(new Uint8Array([94, c === 127 ? 63 : c + 64]));
      return;
    }
    this.output(new Uint8Array([c]));
  }

  flushInput(): void {
    this.lines = [];
    this.partial = [];
    this.raw = [];
  }

  /** Output post-processing, then the console sink. */
  output(bytes: Uint8Array): void {
    const o = this.termios.oflag;
    if ((o & OPOST) === 0 || (o & (ONLCR | OCRNL)) === 0) {
      this.host.consoleWrite(bytes);
      return;
    }
    const out: number[] = [];
    for (const b of bytes) {
      if (b === 10 && (o & ONLCR) !== 0) out.push(13, 10);
      else if (b === 13 && (o & OCRNL) !== 0) out.push(10);
      else out.push(b);
    }
    this.host.consoleWrite(new Uint8Array(out));
  }

  // ---- FileOps ---------------------------------------------------------------------------------

  read(_file: OpenFileState, buf: Uint8Array, caller: FileCaller): IoResult {
    if (buf.length === 0) return 0;
    if (this.canonical) {
      const line = this.lines[0];
      if (line === undefined) return blockOn(TTY_INPUT_CHAN);
      const n = Math.min(buf.length, line.length);
      buf.set(line.slice(0, n));
      if (n === line.length) this.lines.shift();
      else this.lines[0] = line.slice(n);
      return n;
    }
    const vmin = this.termios.cc[VMIN] ?? 1;
    const vtime = this.termios.cc[VTIME] ?? 0;
    const want = Math.max(1, Math.min(vmin, buf.length));
    const ready = this.raw.length >= want || (vmin === 0 && this.raw.length > 0);
    if (ready || (caller.timedOut === true && (vmin === 0 || this.raw.length > 0))) {
      const n = Math.min(buf.length, this.raw.length);
      buf.set(this.raw.splice(0, n));
      return n;
    }
    if (vmin === 0 && vtime === 0) return 0;
    if (vtime > 0 && (vmin === 0 || this.raw.length > 0)) {
      return blockOn(TTY_INPUT_CHAN, this.host.now() + vtime * 100_000_000);
    }
    return blockOn(TTY_INPUT_CHAN);
  }

  write(_file: OpenFileState, data: Uint8Array): IoResult {
    this.output(data);
    return data.length;
  }

  ioctl(_file: OpenFileState, request: number, arg: number, caller: FileCaller): IoResult {
    switch (request) {
      case TCGETS:
        return caller.copyout(arg, encodeTermios(this.termios));
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        const b = caller.copyin(arg, TERMIOS_SIZE);
        if (typeof b === "number") return b;
        this.setTermios(decodeTermios(b));
        if (request === TCSETSF) this.flushInput();
        return 0;
      }
      case TIOCGWINSZ: {
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint16(0, this.winsize.rows, true);
        v.setUint16(2, this.winsize.cols, true);
        v.setUint16(4, this.winsize.xpixel, true);
        v.setUint16(6, this.winsize.ypixel, true);
        return caller.copyout(arg, b);
      }
      case TIOCSWINSZ: {
        const b = caller.copyin(arg, 8);
        if (typeof b === "number") return b;
        const v = new DataView(b.buffer, b.byteOffset, 8);
        this.setWinsize({
          rows: v.getUint16(0, true),
          cols: v.getUint16(2, true),
          xpixel: v.getUint16(4, true),
          ypixel: v.getUint16(6, true),
        });
        return 0;
      }
      case TIOCGPGRP: {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, this.pgrp, true);
        return caller.copyout(arg, b);
      }
      case TIOCSPGRP: {
        const b = caller.copyin(arg, 4);
        if (typeof b === "number") return b;
        const pgrp = new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
        if (pgrp <= 0) return -EINVAL;
        this.pgrp = pgrp;
        return 0;
      }
      case FIONREAD: {
        const n = this.canonical ? (this.lines[0]?.length ?? 0) : this.raw.length;
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, n, true);
        return caller.copyout(arg, b);
      }
      default:
        return -ENOTTY;
    }
  }

  /** Apply new modes; leaving canonical mode makes everything typed so far readable. */
  setTermios(t: Termios): void {
    const wasCanonical = this.canonical;
    this.termios = t;
    if (wasCanonical && !this.canonical) {
      this.raw.push(...this.lines.flat(), ...this.partial);
      this.lines = [];
      this.partial = [];
    } else if (!wasCanonical && this.canonical) {
      this.partial = this.raw;
      this.raw = [];
    }
    this.host.wakeup(TTY_INPUT_CHAN);
  }

  /** Set the window size; a change sends SIGWINCH to the foreground group. */
  setWinsize(w: Winsize): void {
    const s = this.winsize;
    const changed = s.rows !== w.rows || s.cols !== w.cols || s.xpixel !== w.xpixel || s.ypixel !== w.ypixel;
    this.winsize = { ...w };
    if (changed && this.pgrp !== 0) this.host.signalProcessGroup(this.pgrp, SIGWINCH);
  }

  poll(): number {
    const readable = this.canonical ? this.lines.length > 0 : this.raw.length > 0;
    return (readable ? POLLIN : 0) | POLLOUT;
  }

  close(): void {}
}

/** /dev/null */
export class NullDevice implements FileOps, DeviceNode {
  readonly kind = "null";
  open(): FileOps {
    return this;
  }
  read(): number {
    return 0;
  }
  write(_f: OpenFileState, data: Uint8Array): number {
    return data.length;
  }
  poll(): number {
    return POLLIN | POLLOUT;
  }
  close(): void {}
}

export type { DeviceHost };
