/**
 * Interpreter speed: the same static RV32IM ELF (a compute loop, and a load/store loop over
 * 64 KiB) run by vkc's `Hart` and by `qemu-riscv32`, side by side. The ELF is written here from
 * the test encoder, so the benchmark needs no clang. The lead wires `interpreterBenchmark` into
 * bench/run.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stop } from "../packages/host-kernel/src/cpu/cpu-types.ts";
import { Hart } from "../packages/host-kernel/src/cpu/hart.ts";
import * as A from "../packages/host-kernel/src/cpu/test-asm.ts";
import { TestMemory } from "../packages/host-kernel/src/cpu/test-memory.ts";
import { parseElf } from "../packages/host-kernel/src/exec/elf.ts";
import type { Benchmark, BenchRow } from "./harness.ts";

const TEXT = 0x10000;
const DATA = 0x20000;
const DATA_SIZE = 0x10000;

/** exit(0) through Linux's exit syscall, the same under vkc and qemu. */
const EXIT = [A.addi(10, 0, 0), A.addi(17, 0, 93), A.ecall()];

function computeLoop(iterations: number): number[] {
  return [
    A.li(8, iterations),
    A.li(2, 0x9e3779b9),
    A.add(1, 1, 2), // loop:
    A.xor(3, 1, 3),
    A.slli(4, 3, 5),
    A.srli(5, 3, 7),
    A.xor(3, 4, 5),
    A.mul(6, 3, 2),
    A.addi(8, 8, -1),
    A.bne(8, 0, -28),
    EXIT,
  ].flat();
}

function memoryLoop(passes: number): number[] {
  return [
    A.li(8, passes),
    A.li(1, DATA),
    A.li(2, DATA + DATA_SIZE),
    A.add(3, 1, 0), // pass:
    A.lw(4, 3, 0), // word:
    A.lw(5, 3, 4),
    A.add(4, 4, 5),
    A.addi(4, 4, 1),
    A.sw(4, 3, 0),
    A.sb(4, 3, 5),
    A.addi(3, 3, 8),
    A.bltu(3, 2, -28),
    A.addi(8, 8, -1),
    A.bne(8, 0, -40),
    EXIT,
  ].flat();
}

/** A static ELF32 RISC-V executable: code at TEXT (RX), DATA_SIZE zero bytes at DATA (RW). */
function writeElf(code: readonly number[]): Uint8Array {
  const codeOff = 0x100; // the first segment maps the headers too, as linkers do
  const bytes = new Uint8Array(codeOff + code.length * 4);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]);
  v.setUint16(16, 2, true);
  v.setUint16(18, 243, true);
  v.setUint32(20, 1, true);
  v.setUint32(24, TEXT + codeOff, true);
  v.setUint32(28, 52, true);
  v.setUint16(40, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, 2, true);
  const phdr = (i: number, off: number, vaddr: number, filesz: number, memsz: number, flags: number) => {
    const h = 52 + 32 * i;
    for (const [k, x] of [0, 1, off, vaddr, vaddr, filesz, memsz, flags, 0x1000].entries()) {
      if (k > 0) v.setUint32(h + 4 * (k - 1), x, true);
    }
  };
  phdr(0, 0, TEXT, codeOff + code.length * 4, codeOff + code.length * 4, 5);
  phdr(1, 0, DATA, 0, DATA_SIZE, 6);
  for (let i = 0; i < code.length; i++) v.setUint32(codeOff + 4 * i, code[i]!, true);
  return bytes;
}

/** Run the ELF on a Hart until exit; returns instructions retired and seconds. */
function runOnVkc(bytes: Uint8Array, jit: boolean): { retired: number; seconds: number } {
  const elf = parseElf(bytes);
  const mem = new TestMemory();
  for (const s of elf.segments) {
    mem.map(s.vaddr, s.memsz, s.prot);
    mem.writeBytes(s.vaddr, bytes.subarray(s.offset, s.offset + s.filesz));
  }
  const hart = new Hart(mem);
  hart.jit = jit;
  hart.pc = elf.entry;
  const t0 = performance.now();
  for (;;) {
    const stop = hart.run(1_000_000);
    if (stop === Stop.Budget) continue;
    if (stop === Stop.Ecall && hart.x[17] === 93) break;
    throw new Error(`benchmark program stopped with ${stop} at 0x${hart.pc.toString(16)}`);
  }
  return { retired: hart.instret, seconds: (performance.now() - t0) / 1000 };
}

function runOnQemu(file: string): number | undefined {
  const t0 = performance.now();
  const r = spawnSync("qemu-riscv32", [file], { stdio: "ignore" });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return (performance.now() - t0) / 1000;
}

export const interpreterMicroBenchmark: Benchmark = {
  name: "interpreter-micro",
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), "vkc-bench-"));
    const rows: BenchRow[] = [];
    try {
      for (const [name, code, warm] of [
        ["compute loop", computeLoop(20_000_000), computeLoop(1_000_000)],
        ["memory loop", memoryLoop(300), memoryLoop(10)],
      ] as const) {
        const bytes = writeElf(code);
        const file = join(dir, `${name.replace(" ", "-")}.elf`);
        writeFileSync(file, bytes, { mode: 0o755 });
        const qemuSeconds = runOnQemu(file);
        for (const jit of [false, true]) {
          runOnVkc(writeElf(warm), jit); // warm-up
          const vkc = runOnVkc(bytes, jit);
          const mips = vkc.retired / vkc.seconds / 1e6;
          const row: BenchRow = {
            name: `micro, ${jit ? "translated blocks" : "interpreter"}: ${name}`,
            value: mips,
            unit: "MIPS",
          };
          if (qemuSeconds !== undefined) {
            const qemuMips = vkc.retired / qemuSeconds / 1e6;
            row.baseline = { name: "qemu-riscv32", value: qemuMips };
            row.ratio = mips / qemuMips;
          } else {
            row.note = "qemu-riscv32 not available";
          }
          rows.push(row);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
