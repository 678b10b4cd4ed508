/** Linux's kernel `struct termios` for rv32 (36 bytes) and the flag bits vkc's tty honours. */
export const TERMIOS_SIZE = 36;
export const NCCS = 19;

/** ioctl requests (Linux values). */
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;

/** c_iflag */
export const INLCR = 0x40;
export const IGNCR = 0x80;
export const ICRNL = 0x100;
export const IXON = 0x400;
/** c_oflag */
export const OPOST = 0x1;
export const ONLCR = 0x4;
export const OCRNL = 0x8;
/** c_lflag */
export const ISIG = 0x1;
export const ICANON = 0x2;
export const ECHO = 0x8;
export const ECHOE = 0x10;
export const ECHOK = 0x20;
export const ECHONL = 0x40;
export const NOFLSH = 0x80;
export const ECHOCTL = 0x200;
export const ECHOKE = 0x800;
export const IEXTEN = 0x8000;

/** c_cc indexes (Linux), plus vkc's VCKPT. */
export const VINTR = 0;
export const VQUIT = 1;
export const VERASE = 2;
export const VKILL = 3;
export const VEOF = 4;
export const VTIME = 5;
export const VMIN = 6;
export const VSUSP = 10;
export const VCKPT = 17;

export interface Termios {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
  line: number;
  cc: number[];
}

/** The modes a fresh console has (like a Linux tty after `stty sane`). */
export function defaultTermios(): Termios {
  const cc = new Array<number>(NCCS).fill(0);
  cc[VINTR] = 0x03;
  cc[VQUIT] = 0x1c;
  cc[VERASE] = 0x7f;
  cc[VKILL] = 0x15;
  cc[VEOF] = 0x04;
  cc[VTIME] = 0;
  cc[VMIN] = 1;
  cc[VSUSP] = 0x1a;
  cc[VCKPT] = 0x05;
  return {
    iflag: ICRNL | IXON,
    oflag: OPOST | ONLCR,
    cflag: 0xbf, // B38400 | CS8 | CREAD
    lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    line: 0,
    cc,
  };
}

export function encodeTermios(t: Termios): Uint8Array {
  const b = new Uint8Array(TERMIOS_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, t.iflag >>> 0, true);
  v.setUint32(4, t.oflag >>> 0, true);
  v.setUint32(8, t.cflag >>> 0, true);
  v.setUint32(12, t.lflag >>> 0, true);
  b[16] = t.line & 0xff;
  for (let i = 0; i < NCCS; i++) b[17 + i] = (t.cc[i] ?? 0) & 0xff;
  return b;
}

export function decodeTermios(b: Uint8Array): Termios {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    iflag: v.getUint32(0, true),
    oflag: v.getUint32(4, true),
    cflag: v.getUint32(8, true),
    lflag: v.getUint32(12, true),
    line: b[16] as number,
    cc: Array.from(b.subarray(17, 17 + NCCS)),
  };
}
