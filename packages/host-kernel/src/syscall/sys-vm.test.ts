import { describe, expect, it } from "vitest";
import { li, lw, sw } from "../cpu/test-asm.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { Asm, DATA, image, sys } from "../kernel-test-support.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MMAP_BASE,
  PROT_READ,
  PROT_WRITE,
} from "../vm/vm-types.ts";
import * as nr from "./syscall-numbers.ts";

const OUT = DATA + 0x100;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Run syscalls in order, storing each result at OUT + 4*i; returns the results. */
async function results(
  calls: (number | string)[][],
  k: Kernel = createKernel(),
  tail: number[] = [],
): Promise<number[]> {
  const a = new Asm();
  calls.forEach(([n, ...args], i) => {
    a.emit(sys(n as number, ...args), li(5, OUT + 4 * i), sw(10, 5, 0));
  });
  a.emit(tail, sys(nr.SYS_exit, 0));
  const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words()));
  await k.run();
  return calls.map((_, i) => (k.procs.get(pid)?.vm.readU32(OUT + 4 * i) ?? 0) | 0);
}

describe("vm syscalls", () => {
  it("mmap2 places, validates and fixes mappings with Linux errors", async () => {
    const r = await results([
      [nr.SYS_mmap2, 0, 8192, RW, ANON, -1, 0],
      [nr.SYS_mmap2, 0, 0, RW, ANON, -1, 0],
      [nr.SYS_mmap2, 0, 4096, RW, MAP_ANONYMOUS, -1, 0],
      [nr.SYS_mmap2, 0x20001, 4096, RW, ANON | MAP_FIXED, -1, 0],
      [nr.SYS_mmap2, 0x200000, 4096, RW, ANON | MAP_FIXED, -1, 0],
      [nr.SYS_mmap2, 0x200000, 4096, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0],
      [nr.SYS_mmap2, 0, 4096, 8, ANON, -1, 0],
      [nr.SYS_mmap2, 0, 4096, RW, MAP_PRIVATE, 77, 0],
      [nr.SYS_munmap, 0x200001, 4096],
      [nr.SYS_munmap, 0x200000, 0],
      [nr.SYS_munmap, 0x200000, 4096],
      [nr.SYS_mprotect, 0x200000, 4096, PROT_READ],
    ]);
    expect((r[0] as number) >>> 0).toBe(MMAP_BASE - 8192);
    expect(r.slice(1)).toEqual([-22, -22, -22, 0x200000, -17, -22, -9, -22, -22, 0, -12]);
  });

  it("brk grows the heap above the program and the new memory is usable", async () => {
    const k = createKernel();
    const r = await results([[nr.SYS_brk, 0]], k);
    const base = r[0] as number;
    expect(base).toBe(DATA + 0x10000);
    const k2 = createKernel();
    const tail = [
      ...li(5, base + 0x1ffc),
      ...li(6, 0x1234),
      sw(6, 5, 0),
      lw(7, 5, 0),
      ...li(5, OUT + 0x80),
      sw(7, 5, 0),
    ];
    const r2 = await results(
      [
        [nr.SYS_brk, base + 0x2000],
        [nr.SYS_brk, 0],
        [nr.SYS_brk, 0x100],
      ],
      k2,
      tail,
    );
    expect(r2).toEqual([base + 0x2000, base + 0x2000, base + 0x2000]);
    const pid = [...k2.procs.keys()][0] as number;
    expect(k2.procs.get(pid)?.vm.readU32(OUT + 0x80)).toBe(0x1234);
  });

  it("maps a VFS file copy-on-write", async () => {
    const k = createKernel({ files: { "/data/f": new TextEncoder().encode("ABCD") } });
    const a = new Asm()
      .emit(li(5, DATA), li(6, 0x61746164), sw(6, 5, 0), li(6, 0x0000662f), sw(6, 5, 4)) // "/data/f"
      .emit(sys(nr.SYS_openat, -100, DATA, 0, 0), li(5, OUT), sw(10, 5, 0))
      .emit(li(5, OUT), lw(14, 5, 0), li(10, 0), li(11, 4096), li(12, RW), li(13, MAP_PRIVATE), li(15, 0))
      .emit(li(17, nr.SYS_mmap2), 0x73, li(5, OUT), sw(10, 5, 4))
      .emit(lw(6, 10, 0), sw(6, 5, 8), li(7, 0x5a5a5a5a), sw(7, 10, 0))
      .emit(sys(nr.SYS_exit, 0));
    const pid = k.spawnImage({ path: "/t", argv: ["t"] }, image(a.words()));
    const r = await k.run();
    expect(r.exitStatus).toBe(0);
    const vm = k.procs.get(pid)?.vm;
    expect(vm?.readU32(OUT)).toBe(3);
    expect(vm?.readU32(OUT + 8)).toBe(0x44434241);
    expect(new TextDecoder().decode(k.vfs.readFile("/data/f"))).toBe("ABCD");
  });
});
