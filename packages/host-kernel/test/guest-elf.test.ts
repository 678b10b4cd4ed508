/**
 * Checks of the committed guest ELFs that need no toolchain or emulator: each is
 * a static little-endian ELF32 RISC-V executable for RV32IMA with the soft-float
 * ILP32 ABI, with no compressed instruction, loaded inside vkc's user address
 * range; and guest/expected/cases.json matches the files that exist.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const guestDir = fileURLToPath(new URL("../guest/", import.meta.url));
const binDir = join(guestDir, "bin");
const srcDir = join(guestDir, "src");
const expectedDir = join(guestDir, "expected");

const EM_RISCV = 243;
const ET_EXEC = 2;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PF_X = 1;
const SHF_EXECINSTR = 4;
const EF_RISCV_RVC = 0x1;
const EF_RISCV_FLOAT_ABI = 0x6;
const USER_MIN = 0x0001_0000;
const STACK_BOTTOM = 0xc000_0000 - 8 * 1024 * 1024;

interface Segment {
  type: number;
  vaddr: number;
  memsz: number;
  flags: number;
}

interface Section {
  flags: number;
  offset: number;
  size: number;
}

interface Elf {
  bytes: Buffer;
  type: number;
  machine: number;
  entry: number;
  eflags: number;
  segments: Segment[];
  sections: Section[];
}

function parseElf(bytes: Buffer): Elf {
  expect(bytes.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  expect(bytes[4], "ELFCLASS32").toBe(1);
  expect(bytes[5], "little-endian").toBe(1);
  const phoff = bytes.readUInt32LE(28);
  const shoff = bytes.readUInt32LE(32);
  const phentsize = bytes.readUInt16LE(42);
  const phnum = bytes.readUInt16LE(44);
  const shentsize = bytes.readUInt16LE(46);
  const shnum = bytes.readUInt16LE(48);
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    segments.push({
      type: bytes.readUInt32LE(at),
      vaddr: bytes.readUInt32LE(at + 8),
      memsz: bytes.readUInt32LE(at + 20),
      flags: bytes.readUInt32LE(at + 24),
    });
  }
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      flags: bytes.readUInt32LE(at + 8),
      offset: bytes.readUInt32LE(at + 16),
      size: bytes.readUInt32LE(at + 20),
    });
  }
  return {
    bytes,
    type: bytes.readUInt16LE(16),
    machine: bytes.readUInt16LE(18),
    entry: bytes.readUInt32LE(24),
    eflags: bytes.readUInt32LE(36),
    segments,
    sections,
  };
}

const elfNames = readdirSync(binDir)
  .filter((f) => f.endsWith(".elf"))
  .sort();

describe("committed guest ELFs", () => {
  it("has one ELF per program source and nothing else", () => {
    const sources = readdirSync(srcDir)
      .filter((f) => f.endsWith(".c"))
      .map((f) => f.replace(/\.c$/, ".elf"))
      .sort();
    expect(elfNames).toEqual(sources);
    expect(elfNames).toEqual(
      [
        "ckptself",
        "forkdemo",
        "forkpipe",
        "hello",
        "memtouch",
        "pipes",
        "primes",
        "rtcheck",
        "sigckpt",
        "sigdemo",
        "spawner",
        "threads",
        "ttyraw",
        "udpecho",
        "udpping",
      ].map((n) => `${n}.elf`),
    );
  });

  for (const name of elfNames) {
    it(`${name} is a static RV32IMA ILP32 executable in the user range`, () => {
      const elf = parseElf(readFileSync(join(binDir, name)));
      expect(elf.type).toBe(ET_EXEC);
      expect(elf.machine).toBe(EM_RISCV);
      expect(elf.eflags & EF_RISCV_RVC, "no compressed instructions").toBe(0);
      expect(elf.eflags & EF_RISCV_FLOAT_ABI, "soft-float ABI").toBe(0);
      expect(elf.segments.some((s) => s.type === PT_INTERP || s.type === PT_DYNAMIC)).toBe(false);
      const loads = elf.segments.filter((s) => s.type === PT_LOAD);
      expect(loads.length).toBeGreaterThan(0);
      for (const s of loads) {
        expect(s.vaddr).toBeGreaterThanOrEqual(USER_MIN);
        expect(s.vaddr + s.memsz).toBeLessThanOrEqual(STACK_BOTTOM);
      }
      const text = loads.find(
        (s) => (s.flags & PF_X) !== 0 && elf.entry >= s.vaddr && elf.entry < s.vaddr + s.memsz,
      );
      expect(text, "entry point inside an executable segment").toBeDefined();
    });

    it(`${name} has only 32-bit instruction encodings in its code`, () => {
      const elf = parseElf(readFileSync(join(binDir, name)));
      const code = elf.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0);
      expect(code.length).toBeGreaterThan(0);
      for (const s of code) {
        expect(s.offset % 4).toBe(0);
        for (let at = s.offset; at < s.offset + s.size; at += 4) {
          // A 16-bit (compressed) encoding has low bits other than 0b11.
          if ((elf.bytes.readUInt32LE(at) & 3) !== 3) {
            throw new Error(`${name}: non-32-bit encoding at file offset 0x${at.toString(16)}`);
          }
        }
      }
    });
  }
});

describe("guest/expected/cases.json", () => {
  const manifest = JSON.parse(readFileSync(join(expectedDir, "cases.json"), "utf8")) as {
    cases: { name: string; program: string; stdout: string; exitStatus: number; runsUnder: string[] }[];
  };

  it("names existing programs and expected files, with unique case names", () => {
    const names = manifest.cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of manifest.cases) {
      expect(existsSync(join(binDir, `${c.program}.elf`)), c.program).toBe(true);
      expect(existsSync(join(expectedDir, c.stdout)), c.stdout).toBe(true);
      expect(Number.isInteger(c.exitStatus) && c.exitStatus >= 0 && c.exitStatus < 256).toBe(true);
      expect(c.runsUnder.length).toBeGreaterThan(0);
      for (const w of c.runsUnder) expect(["qemu", "qemu-linux-shim", "vkc"]).toContain(w);
    }
  });

  it("leaves no expected file unused", () => {
    const used = new Set(manifest.cases.map((c) => c.stdout));
    const files = readdirSync(expectedDir).filter((f) => f.endsWith(".txt"));
    expect(files.filter((f) => !used.has(f))).toEqual([]);
  });
});
