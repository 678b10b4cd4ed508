import { describe, expect, it } from "vitest";
import { addi, jal, li, lw, sw } from "../cpu/test-asm.ts";
import type { DeviceHost, FileCaller, OpenFileState } from "../fs/file-types.ts";
import { isBlock } from "../fs/file-types.ts";
import { createKernel } from "../kernel.ts";
import { Asm, DATA, image, RecordingConsole, sys } from "../kernel-test-support.ts";
import { SIGCKPT, SIGINT, SIGWINCH } from "../signal/signal-numbers.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { TTY_INPUT_CHAN, Tty } from "./tty.ts";
import {
  decodeTermios,
  ECHO,
  encodeTermios,
  ICANON,
  TCGETS,
  TCSETS,
  TIOCGWINSZ,
  TIOCSWINSZ,
  VMIN,
  VTIME,
} from "./tty-termios.ts";

class FakeHost implements DeviceHost {
  out: number[] = [];
  woken: string[] = [];
  signals: [number, number][] = [];
  time = 0;
  wakeup(chan: string): void {
    this.woken.push(chan);
  }
  signalProcessGroup(pgid: number, sig: number): void {
    this.signals.push([pgid, sig]);
  }
  signalProcess(): void {}
  now(): number {
    return this.time;
  }
  consoleWrite(bytes: Uint8Array): void {
    this.out.push(...bytes);
  }
  text(): string {
    return String.fromCharCode(...this.out);
  }
}

function fakeCaller(mem: Map<number, Uint8Array> = new Map(), timedOut = false): FileCaller {
  return {
    pid: 1,
    tid: 1,
    pgid: 1,
    sid: 1,
    timedOut,
    copyin: (addr, len) => (mem.get(addr) ?? new Uint8Array(len)).slice(0, len),
    copyout: (addr, bytes) => {
      mem.set(addr, bytes.slice());
      return 0;
    },
  };
}

const file: OpenFileState = { flags: 2, offset: 0 };
const enc = (s: string) => new TextEncoder().encode(s);

function read(tty: Tty, n = 100, timedOut = false): string | number | "block" {
  const buf = new Uint8Array(n);
  const r = tty.read(file, buf, fakeCaller(new Map(), timedOut));
  if (isBlock(r)) return "block";
  return r < 0 ? r : String.fromCharCode(...buf.subarray(0, r));
}

describe("tty", () => {
  it("cooked mode: echo, erase, kill, lines and ^D", () => {
    const host = new FakeHost();
    const tty = new Tty(host);
    expect(read(tty)).toBe("block");
    tty.input(enc("helo\x7flo\n"));
    expect(host.text()).toBe("helo\b \blo\r\n");
    expect(host.woken).toContain(TTY_INPUT_CHAN);
    expect(read(tty, 3)).toBe("hel");
    expect(read(tty)).toBe("lo\n");
    tty.input(enc("junk\x15ok\x04"));
    expect(read(tty)).toBe("ok");
    tty.input(enc("\x04"));
    expect(read(tty)).toBe("");
    expect(read(tty)).toBe("block");
  });

  it("maps CR to NL on input and NL to CRNL on output", () => {
    const host = new FakeHost();
    const tty = new Tty(host);
    tty.input(enc("a\r"));
    expect(read(tty)).toBe("a\n");
    tty.write(file, enc("x\ny"));
    expect(host.text().endsWith("x\r\ny")).toBe(true);
  });

  it("sends SIGINT on ^C and SIGCKPT on ^E to the foreground group", () => {
    const host = new FakeHost();
    const tty = new Tty(host);
    tty.pgrp = 7;
    tty.input(enc("abc\x03"));
    expect(host.signals).toEqual([[7, SIGINT]]);
    expect(host.text()).toBe("abc^C");
    tty.input(enc("\n"));
    expect(read(tty)).toBe("\n"); // ^C flushed "abc"
    tty.input(enc("\x05"));
    expect(host.signals).toEqual([
      [7, SIGINT],
      [7, SIGCKPT],
    ]);
  });

  it("raw mode through TCSETS: no echo, VMIN/VTIME, and typed-ahead text becomes readable", () => {
    const host = new FakeHost();
    const tty = new Tty(host);
    const mem = new Map<number, Uint8Array>();
    tty.input(enc("ab"));
    expect(tty.ioctl(file, TCGETS, 0x100, fakeCaller(mem))).toBe(0);
    const t = decodeTermios(mem.get(0x100) as Uint8Array);
    t.lflag &= ~(ICANON | ECHO);
    t.cc[VMIN] = 1;
    t.cc[VTIME] = 0;
    mem.set(0x200, encodeTermios(t));
    expect(tty.ioctl(file, TCSETS, 0x200, fakeCaller(mem))).toBe(0);
    expect(read(tty)).toBe("ab");
    expect(read(tty)).toBe("block");
    host.out = [];
    tty.input(enc("x"));
    expect(host.text()).toBe("");
    expect(read(tty)).toBe("x");
    // VMIN 0, VTIME 5: block with a deadline, then return 0 when it has passed
    t.cc[VMIN] = 0;
    t.cc[VTIME] = 5;
    tty.setTermios(t);
    const r = tty.read(file, new Uint8Array(4), fakeCaller());
    expect(isBlock(r) && r.deadline).toBe(500_000_000);
    expect(read(tty, 4, true)).toBe("");
    // VMIN 0, VTIME 0: poll
    t.cc[VTIME] = 0;
    tty.setTermios(t);
    expect(read(tty)).toBe("");
  });

  it("reports and sets the window size, with SIGWINCH on a change", () => {
    const host = new FakeHost();
    const tty = new Tty(host);
    tty.pgrp = 3;
    const mem = new Map<number, Uint8Array>();
    expect(tty.ioctl(file, TIOCGWINSZ, 0x10, fakeCaller(mem))).toBe(0);
    expect(Array.from(new Uint16Array((mem.get(0x10) as Uint8Array).buffer))).toEqual([24, 80, 0, 0]);
    mem.set(0x20, new Uint8Array(new Uint16Array([50, 132, 0, 0]).buffer));
    expect(tty.ioctl(file, TIOCSWINSZ, 0x20, fakeCaller(mem))).toBe(0);
    expect(tty.winsize.cols).toBe(132);
    expect(host.signals).toEqual([[3, SIGWINCH]]);
    expect(tty.ioctl(file, 0x9999, 0, fakeCaller(mem))).toBe(-25);
  });
});

describe("tty in the kernel", () => {
  it("delivers scripted input at virtual times to a reading program, and ^C kills it", async () => {
    const console = new RecordingConsole();
    const k = createKernel({ console, input: '5000 "hi\\n"\n+100000 "\\u0003"\n' });
    const a = new Asm()
      .label("again")
      .emit(sys(nr.SYS_read, 0, DATA, 64))
      .emit(li(5, DATA + 0x100), lw(6, 5, 0), addi(6, 6, 1), sw(6, 5, 0))
      .emit(addi(12, 10, 0), li(10, 1), li(11, DATA), li(17, nr.SYS_write), 0x73)
      .emit((pc, L) => jal(0, L("again") - pc));
    k.spawnImage({ path: "/cat", argv: ["cat"] }, image(a.words()));
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(128 + SIGINT);
    expect(console.text()).toBe("hi\r\nhi\r\n^C");
    expect(r.time).toBeGreaterThanOrEqual(105_000);
  });

  it("takes the console's initial window size from the options", () => {
    expect(createKernel({ winsize: { rows: 50, cols: 100 } }).tty.winsize).toEqual({
      rows: 50,
      cols: 100,
      xpixel: 0,
      ypixel: 0,
    });
  });

  it("reports a deadlock when a reader waits and no input will come", async () => {
    const k = createKernel();
    k.spawnImage({ path: "/r", argv: ["r"] }, image(new Asm().emit(sys(nr.SYS_read, 0, DATA, 4)).words()));
    const r = await k.run();
    expect(r.reason).toBe("deadlock");
    expect(r.blocked).toEqual([{ pid: 1, tid: 1, state: "sleeping", wchan: TTY_INPUT_CHAN }]);
  });

  it("waits for live input instead of deadlocking when liveInput is on", async () => {
    const k = createKernel({ liveInput: true });
    k.spawnImage(
      { path: "/r", argv: ["r"] },
      image(new Asm().emit(sys(nr.SYS_read, 0, DATA, 4), li(17, nr.SYS_exit), 0x73).words()),
    );
    const done = k.run();
    await new Promise((resolve) => setTimeout(resolve, 10));
    k.ttyInput(enc("x\n"));
    const r = await done;
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(2);
  });
});
