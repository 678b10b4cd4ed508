import { describe, expect, it } from "vitest";
import { addi, li, lw, sw } from "../cpu/test-asm.ts";
import { O_CREAT, O_RDWR } from "../fs/file-types.ts";
import { createKernel } from "../kernel.ts";
import { Asm, DATA, image, RecordingConsole, sys } from "../kernel-test-support.ts";
import { SIGPIPE } from "../signal/signal-numbers.ts";
import * as nr from "./syscall-numbers.ts";

const OUT = DATA + 0x100;
const PATH = DATA + 0x200;
const BUF = DATA + 0x300;

function data(): Uint8Array {
  const d = new Uint8Array(0x400);
  d.set(new TextEncoder().encode("/tmp/notes\0"), 0x200);
  d.set(new TextEncoder().encode("0123456789"), 0x300);
  return d;
}

describe("file syscalls", () => {
  it("openat creates a file; write, _llseek and read move through it", async () => {
    const k = createKernel();
    const a = new Asm()
      .emit(sys(nr.SYS_openat, -100, PATH, O_CREAT | O_RDWR, 0o644), li(5, OUT), sw(10, 5, 0))
      .emit(li(5, OUT), lw(9, 5, 0)) // s1 = fd
      .emit(addi(10, 9, 0), li(11, BUF), li(12, 10), li(17, nr.SYS_write), 0x73, li(5, OUT), sw(10, 5, 4))
      .emit(addi(10, 9, 0), li(11, 0), li(12, 3), li(13, OUT + 0x10), li(14, 0), li(17, nr.SYS_llseek), 0x73)
      .emit(li(5, OUT), sw(10, 5, 8))
      .emit(
        addi(10, 9, 0),
        li(11, BUF + 0x80),
        li(12, 4),
        li(17, nr.SYS_read),
        0x73,
        li(5, OUT),
        sw(10, 5, 12),
      )
      .emit(addi(10, 9, 0), li(11, 0xffffffff), li(12, 0xfffffffe), li(13, OUT + 0x18), li(14, 2))
      .emit(li(17, nr.SYS_llseek), 0x73, li(5, OUT), sw(10, 5, 0x20))
      .emit(sys(nr.SYS_close, 3), li(5, OUT), sw(10, 5, 0x24))
      .emit(sys(nr.SYS_close, 3), li(5, OUT), sw(10, 5, 0x28))
      .emit(sys(nr.SYS_exit, 0));
    const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words(), data()));
    const r = await k.run();
    expect(r.exitStatus).toBe(0);
    const vm = k.procs.get(pid)?.vm;
    const at = (o: number) => (vm?.readU32(OUT + o) ?? 0) | 0;
    expect([at(0), at(4), at(8), at(12)]).toEqual([3, 10, 0, 4]);
    expect(at(0x10)).toBe(3);
    expect(new TextDecoder().decode(vm?.copyin(BUF + 0x80, 4) as Uint8Array)).toBe("3456");
    expect(at(0x20)).toBe(0);
    expect(at(0x18)).toBe(8); // SEEK_END - 2
    expect([at(0x24), at(0x28)]).toEqual([0, -9]);
    expect(new TextDecoder().decode(k.vfs.readFile("/tmp/notes"))).toBe("0123456789");
  });

  it("writing to a pipe with no reader fails with EPIPE and raises SIGPIPE", async () => {
    const console = new RecordingConsole();
    const k = createKernel({ console });
    const a = new Asm()
      .emit(sys(nr.SYS_pipe2, OUT, 0))
      .emit(li(5, OUT), lw(10, 5, 0), li(17, nr.SYS_close), 0x73)
      .emit(li(5, OUT), lw(10, 5, 4), li(11, BUF), li(12, 1), li(17, nr.SYS_write), 0x73)
      .emit(sys(nr.SYS_exit, 0));
    k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words(), data()));
    expect((await k.run()).exitStatus).toBe(128 + SIGPIPE);
  });
});
