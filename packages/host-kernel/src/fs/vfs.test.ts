import { describe, expect, it } from "vitest";
import { FD_LIMIT, FdTable, newOpenFile } from "./fd-table.ts";
import type { DeviceHost, FileOps, OpenFileState } from "./file-types.ts";
import {
  isBlock,
  O_APPEND,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from "./file-types.ts";
import { PIPE_BUF_SIZE, Pipe, PipeReadOps, PipeWriteOps } from "./pipe.ts";
import { Vfs } from "./vfs.ts";

const host: DeviceHost & { woken: string[] } = {
  woken: [],
  wakeup(chan) {
    this.woken.push(chan);
  },
  signalProcessGroup() {},
  signalProcess() {},
  now: () => 0,
  consoleWrite() {},
};
const caller = {
  pid: 1,
  tid: 1,
  pgid: 1,
  sid: 1,
  copyin: () => -14,
  copyout: () => -14,
};
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function open(vfs: Vfs, path: string, flags: number): { ops: FileOps; f: OpenFileState } {
  const ops = vfs.open(path, flags, host);
  if (typeof ops === "number") throw new Error(`open ${path}: ${ops}`);
  return { ops, f: { flags, offset: 0 } };
}

describe("vfs", () => {
  it("creates, writes, appends, seeks and reads files", () => {
    const vfs = new Vfs();
    expect(vfs.open("/tmp/x", O_RDONLY, host)).toBe(-2);
    vfs.mkdirs("/tmp");
    const w = open(vfs, "/tmp/x", O_CREAT | O_WRONLY);
    expect(w.ops.write(w.f, enc("hello"), caller)).toBe(5);
    expect(vfs.open("/tmp/x", O_CREAT | O_EXCL | O_WRONLY, host)).toBe(-17);
    const a = open(vfs, "/tmp/x", O_WRONLY | O_APPEND);
    a.ops.write(a.f, enc(" world"), caller);
    const r = open(vfs, "/tmp/x", O_RDONLY);
    const buf = new Uint8Array(64);
    expect(dec(buf.subarray(0, r.ops.read(r.f, buf, caller) as number))).toBe("hello world");
    expect(r.ops.lseek?.(r.f, -5, SEEK_END)).toBe(6);
    expect(dec(buf.subarray(0, r.ops.read(r.f, buf, caller) as number))).toBe("world");
    expect(r.ops.lseek?.(r.f, -100, SEEK_CUR)).toBe(-22);
    expect(r.ops.lseek?.(r.f, 20, SEEK_SET)).toBe(20);
    expect(r.ops.read(r.f, buf, caller)).toBe(0);
    // a write past the end leaves a hole of zeros
    const h = open(vfs, "/tmp/x", O_RDWR);
    h.ops.lseek?.(h.f, 13, SEEK_SET);
    h.ops.write(h.f, enc("!"), caller);
    expect(Array.from(vfs.readFile("/tmp/x")?.subarray(11) ?? [])).toEqual([0, 0, 33]);
    open(vfs, "/tmp/x", O_WRONLY | O_TRUNC);
    expect(vfs.readFile("/tmp/x")?.length).toBe(0);
  });

  it("imports host files read-only and reports path errors", () => {
    const vfs = new Vfs();
    vfs.writeFile("/etc/motd", enc("hi"), true);
    expect(vfs.open("/etc/motd", O_WRONLY, host)).toBe(-13);
    expect(dec(vfs.readFile("/etc/motd") ?? new Uint8Array())).toBe("hi");
    expect(vfs.open("/etc/motd/x", O_RDONLY, host)).toBe(-20);
    expect(vfs.open("/etc", O_WRONLY, host)).toBe(-21);
    expect(vfs.open("/nope/x", O_CREAT | O_WRONLY, host)).toBe(-2);
    expect(vfs.open("", O_RDONLY, host)).toBe(-2);
  });
});

describe("descriptor table", () => {
  it("uses the lowest free slot, closes on the last reference and stops at the limit", () => {
    const t = new FdTable();
    let closed = 0;
    const ops: FileOps = {
      kind: "test",
      read: () => 0,
      write: () => 0,
      poll: () => 0,
      close: () => {
        closed++;
      },
    };
    const f = newOpenFile(ops, 0);
    expect(t.install(f, false)).toBe(0);
    expect(t.install(f, true)).toBe(1);
    expect(t.slots[1]?.cloexec).toBe(true);
    expect(t.close(0)).toBe(0);
    expect(closed).toBe(0);
    expect(t.install(newOpenFile(ops, 0), false)).toBe(0);
    expect(t.close(1)).toBe(0);
    expect(closed).toBe(1);
    expect(t.close(1)).toBe(-9);
    for (let i = 1; i < FD_LIMIT; i++) expect(t.install(newOpenFile(ops, 0), false)).toBe(i);
    expect(t.install(newOpenFile(ops, 0), false)).toBe(-24);
  });
});

describe("pipes", () => {
  it("moves bytes, blocks when empty or full, and wakes the other side", () => {
    const pipe = new Pipe(1, host);
    const r = new PipeReadOps(pipe);
    const w = new PipeWriteOps(pipe);
    const f = { flags: 0, offset: 0 };
    const buf = new Uint8Array(10);
    const blocked = r.read(f, buf);
    expect(isBlock(blocked) && blocked.block).toBe("pipe:1:r");
    expect(w.write(f, enc("abc"))).toBe(3);
    expect(host.woken).toContain("pipe:1:r");
    expect(r.read(f, buf)).toBe(3);
    expect(dec(buf.subarray(0, 3))).toBe("abc");
    expect(w.write(f, new Uint8Array(PIPE_BUF_SIZE + 10))).toBe(PIPE_BUF_SIZE);
    const full = w.write(f, enc("x"));
    expect(isBlock(full) && full.block).toBe("pipe:1:w");
    expect(pipe.contents().length).toBe(PIPE_BUF_SIZE);
  });

  it("gives EOF when all writers close and EPIPE when all readers close", () => {
    const pipe = new Pipe(2, host);
    const r = new PipeReadOps(pipe);
    const w = new PipeWriteOps(pipe);
    const f = { flags: 0, offset: 0 };
    w.write(f, enc("z"));
    w.close();
    const buf = new Uint8Array(4);
    expect(r.read(f, buf)).toBe(1);
    expect(r.read(f, buf)).toBe(0);
    const pipe2 = new Pipe(3, host);
    const r2 = new PipeReadOps(pipe2);
    const w2 = new PipeWriteOps(pipe2);
    r2.close();
    expect(w2.write(f, enc("z"))).toBe(-32);
  });
});
