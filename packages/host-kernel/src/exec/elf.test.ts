import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, Stop } from "../cpu/cpu-types.ts";
import { Hart } from "../cpu/hart.ts";
import * as A from "../cpu/test-asm.ts";
import { TestMemory } from "../cpu/test-memory.ts";
import { HostKernelError } from "../errors.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE, parseElf } from "./elf.ts";
import { ElfError, ElfFormatError, ElfLimitError, ElfUnsupportedError } from "./elf-errors.ts";

interface Phdr {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

const TEXT = 0x10000;
const DATA = 0x11000;

/** A small valid executable: headers + code in a RX segment at 0x10000, data in RW at 0x11000. */
function buildElf(
  opts: { phdrs?: Phdr[]; code?: number[]; entry?: number; patch?: (v: DataView) => void } = {},
): Uint8Array {
  const code =
    opts.code ?? [A.li(10, DATA), A.lw(11, 10, 0), A.addi(11, 11, 1), A.sw(11, 10, 4), A.ebreak()].flat();
  const phdrs = opts.phdrs ?? [
    {
      type: 1,
      offset: 0,
      vaddr: TEXT,
      filesz: 0x100 + code.length * 4,
      memsz: 0x100 + code.length * 4,
      flags: 5,
      align: 0x1000,
    },
    { type: 1, offset: 0x1000, vaddr: DATA, filesz: 8, memsz: 0x2000, flags: 6, align: 0x1000 },
  ];
  const bytes = new Uint8Array(0x1008);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setUint32(24, opts.entry ?? TEXT + 0x100, true);
  v.setUint32(28, 52, true); // phoff
  v.setUint32(32, 0, true); // shoff
  v.setUint32(36, 0, true); // flags: soft-float, no RVC
  v.setUint16(40, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, phdrs.length, true);
  phdrs.forEach((p, i) => {
    const h = 52 + 32 * i;
    v.setUint32(h, p.type, true);
    v.setUint32(h + 4, p.offset, true);
    v.setUint32(h + 8, p.vaddr, true);
    v.setUint32(h + 12, p.vaddr, true);
    v.setUint32(h + 16, p.filesz, true);
    v.setUint32(h + 20, p.memsz, true);
    v.setUint32(h + 24, p.flags, true);
    v.setUint32(h + 28, p.align, true);
  });
  for (let i = 0; i < code.length; i++) v.setUint32(0x100 + 4 * i, code[i]!, true);
  v.setUint32(0x1000, 41, true);
  opts.patch?.(v);
  return bytes;
}

function refuse(bytes: Uint8Array, message: string, kind: typeof ElfError = ElfError): void {
  let error: unknown;
  try {
    parseElf(bytes);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(kind);
  expect(HostKernelError.isInstance(error)).toBe(true);
  expect((error as Error).message).toBe(message);
  expect((error as Error).message).not.toContain("\n");
}

describe("parseElf: a valid executable", () => {
  it("returns entry, segments with protections, and the program header address", () => {
    const elf = parseElf(buildElf());
    expect(elf.entry).toBe(TEXT + 0x100);
    expect(elf.segments).toEqual([
      {
        offset: 0,
        vaddr: TEXT,
        filesz: 0x100 + 24,
        memsz: 0x100 + 24,
        prot: PROT_READ | PROT_EXEC,
        align: 0x1000,
      },
      { offset: 0x1000, vaddr: DATA, filesz: 8, memsz: 0x2000, prot: PROT_READ | PROT_WRITE, align: 0x1000 },
    ]);
    expect(elf.phdrAddr).toBe(TEXT + 52);
    expect(elf.phnum).toBe(2);
    expect(elf.phent).toBe(32);
  });

  it("loads and runs on a hart", () => {
    const bytes = buildElf();
    const elf = parseElf(bytes);
    const mem = new TestMemory();
    for (const s of elf.segments) {
      mem.map(s.vaddr, s.memsz, 7);
      mem.writeBytes(s.vaddr, bytes.subarray(s.offset, s.offset + s.filesz));
    }
    const hart = new Hart(mem);
    hart.pc = elf.entry;
    expect(hart.run(100)).toBe(Stop.Ebreak);
    expect(mem.readU32(DATA + 4)).toBe(42);
  });

  it("prefers PT_PHDR for AT_PHDR, ignores other segment types and empty PT_LOADs", () => {
    const bytes = buildElf({
      phdrs: [
        { type: 6, offset: 52, vaddr: TEXT + 52, filesz: 128, memsz: 128, flags: 4, align: 4 },
        { type: 1, offset: 0, vaddr: TEXT, filesz: 0x200, memsz: 0x200, flags: 5, align: 0x1000 },
        { type: 0x6474e551, offset: 0, vaddr: 0, filesz: 0, memsz: 0, flags: 6, align: 16 },
        { type: 1, offset: 0, vaddr: 0x50000, filesz: 0, memsz: 0, flags: 6, align: 0x1000 },
      ],
    });
    const elf = parseElf(bytes);
    expect(elf.segments).toHaveLength(1);
    expect(elf.phdrAddr).toBe(TEXT + 52);
    expect(elf.phnum).toBe(4);
  });

  it("accepts segments on adjacent pages", () => {
    const bytes = buildElf({
      phdrs: [
        { type: 1, offset: 0, vaddr: TEXT, filesz: 0x200, memsz: 0x1000, flags: 5, align: 0x1000 },
        { type: 1, offset: 0x1000, vaddr: TEXT + 0x1000, filesz: 8, memsz: 8, flags: 6, align: 0x1000 },
      ],
    });
    expect(parseElf(bytes).segments).toHaveLength(2);
  });

  it("tolerates the RVC flag only when asked", () => {
    const bytes = buildElf({ patch: (v) => v.setUint32(36, 1, true) });
    refuse(bytes, "compressed instructions (EF_RISCV_RVC) are not supported: build with -march=rv32ima");
    expect(parseElf(bytes, { allowRvcFlag: true }).flags).toBe(1);
  });
});

describe("parseElf: refusals", () => {
  const put32 = (o: number, x: number) => (v: DataView) => v.setUint32(o, x, true);
  const put16 = (o: number, x: number) => (v: DataView) => v.setUint16(o, x, true);
  const put8 = (o: number, x: number) => (v: DataView) => v.setUint8(o, x);
  const seg = (i: number, field: number, x: number) => put32(52 + 32 * i + field, x);
  const all =
    (...patches: ((v: DataView) => void)[]) =>
    (v: DataView): void => {
      for (const p of patches) p(v);
    };

  const cases: [string, Uint8Array, string, typeof ElfError][] = [
    ["empty", new Uint8Array(0), "not an ELF file (bad magic)", ElfFormatError],
    [
      "a script",
      new TextEncoder().encode("#!/bin/sh\necho hi\n"),
      "not an ELF file (bad magic)",
      ElfFormatError,
    ],
    [
      "truncated header",
      buildElf().subarray(0, 40),
      "ELF file truncated: 40 bytes is shorter than the ELF header",
      ElfFormatError,
    ],
    [
      "ELFCLASS64",
      buildElf({ patch: put8(4, 2) }),
      "ELF class 64 is not supported: vkc runs RV32 (ELFCLASS32)",
      ElfUnsupportedError,
    ],
    [
      "class 0",
      buildElf({ patch: put8(4, 0) }),
      "ELF class 0 is not valid (expected 1, ELFCLASS32)",
      ElfFormatError,
    ],
    [
      "big-endian",
      buildElf({ patch: put8(5, 2) }),
      "big-endian ELF files are not supported: RISC-V is little-endian",
      ElfUnsupportedError,
    ],
    [
      "ident version",
      buildElf({ patch: put8(6, 0) }),
      "ELF identification version 0 is not supported (expected 1)",
      ElfFormatError,
    ],
    [
      "ET_DYN",
      buildElf({ patch: put16(16, 3) }),
      "position-independent executables are not supported",
      ElfUnsupportedError,
    ],
    [
      "ET_REL",
      buildElf({ patch: put16(16, 1) }),
      "relocatable object files cannot be run: link the program first",
      ElfUnsupportedError,
    ],
    ["ET_CORE", buildElf({ patch: put16(16, 4) }), "core files cannot be run", ElfUnsupportedError],
    [
      "type 9",
      buildElf({ patch: put16(16, 9) }),
      "ELF type 9 is not an executable (expected 2, ET_EXEC)",
      ElfFormatError,
    ],
    ["x86-64", buildElf({ patch: put16(18, 62) }), "ELF machine 62 is not RISC-V (243)", ElfUnsupportedError],
    [
      "e_version",
      buildElf({ patch: put32(20, 2) }),
      "ELF version 2 is not supported (expected 1)",
      ElfFormatError,
    ],
    [
      "e_ehsize",
      buildElf({ patch: put16(40, 64) }),
      "ELF header size 64 is wrong (expected 52)",
      ElfFormatError,
    ],
    [
      "e_phentsize",
      buildElf({ patch: put16(42, 56) }),
      "program header size 56 is wrong (expected 32)",
      ElfFormatError,
    ],
    [
      "no program headers",
      buildElf({ patch: put16(44, 0) }),
      "ELF file has no program headers",
      ElfFormatError,
    ],
    [
      "too many program headers",
      buildElf({ patch: put16(44, 65) }),
      "ELF file has 65 program headers (limit 64)",
      ElfLimitError,
    ],
    [
      "program headers past the end",
      buildElf({ patch: put32(28, 0x1000) }),
      "program headers at offset 4096 (2 × 32 bytes) lie outside the file (4104 bytes)",
      ElfFormatError,
    ],
    [
      "program headers overlapping the ELF header",
      buildElf({ patch: put32(28, 8) }),
      "program headers at offset 8 (2 × 32 bytes) lie outside the file (4104 bytes)",
      ElfFormatError,
    ],
    [
      "hard-float ABI",
      buildElf({ patch: put32(36, 4) }),
      'float ABI "double" is not supported: vkc has no F/D registers (build with -mabi=ilp32)',
      ElfUnsupportedError,
    ],
    [
      "single-float ABI",
      buildElf({ patch: put32(36, 2) }),
      'float ABI "single" is not supported: vkc has no F/D registers (build with -mabi=ilp32)',
      ElfUnsupportedError,
    ],
    [
      "RVE",
      buildElf({ patch: put32(36, 8) }),
      "RV32E binaries (EF_RISCV_RVE) are not supported: build for rv32ima",
      ElfUnsupportedError,
    ],
    [
      "PT_INTERP",
      buildElf({ patch: seg(1, 0, 3) }),
      "dynamically linked programs are not supported (PT_INTERP): link with -static",
      ElfUnsupportedError,
    ],
    [
      "PT_DYNAMIC",
      buildElf({ patch: seg(1, 0, 2) }),
      "dynamically linked programs are not supported (PT_DYNAMIC): link with -static",
      ElfUnsupportedError,
    ],
    [
      "filesz > memsz",
      buildElf({ patch: seg(1, 16, 0x3000) }),
      "segment 1 has 12288 file bytes but only 8192 bytes of memory",
      ElfFormatError,
    ],
    [
      "file bytes past the end",
      buildElf({ patch: seg(1, 4, 0x1004) }),
      "segment 1 reads file bytes 4100..4108 beyond the end of the file (4104 bytes)",
      ElfFormatError,
    ],
    [
      "huge segment",
      buildElf({ patch: seg(1, 20, 0xffffffff) }),
      "segment 1 claims 4294967295 bytes (limit 536870912)",
      ElfLimitError,
    ],
    [
      "wraparound",
      buildElf({ patch: all(seg(1, 8, 0xfffff000), seg(1, 4, 0), seg(1, 16, 0)) }),
      "segment 1 at 0xfffff000 wraps around the address space",
      ElfFormatError,
    ],
    [
      "below user space",
      buildElf({ patch: seg(1, 8, 0x1000) }),
      "segment 1 at 0x00001000..0x00003000 is outside user space (0x00010000..0xc0000000)",
      ElfFormatError,
    ],
    [
      "into kernel space",
      buildElf({ patch: seg(1, 8, 0xbffff000) }),
      "segment 1 at 0xbffff000..0xc0001000 is outside user space (0x00010000..0xc0000000)",
      ElfFormatError,
    ],
    [
      "alignment not a power of two",
      buildElf({ patch: seg(1, 28, 0x3000) }),
      "segment 1 alignment 12288 is not a power of two",
      ElfFormatError,
    ],
    [
      "vaddr and offset disagree modulo align",
      buildElf({ patch: seg(1, 8, DATA + 0x10) }),
      "segment 1 address 0x00011010 and file offset 4096 disagree modulo its alignment 4096",
      ElfFormatError,
    ],
    [
      "overlapping segments (page-granular)",
      buildElf({ patch: all(seg(1, 8, TEXT), seg(1, 28, 0)) }),
      "segment 1 overlaps segment 0 at 0x00010000",
      ElfFormatError,
    ],
    [
      "sharing one page",
      buildElf({ patch: all(seg(1, 8, TEXT + 0x800), seg(1, 28, 4)) }),
      "segment 1 overlaps segment 0 at 0x00010000",
      ElfFormatError,
    ],
    [
      "entry outside every segment",
      buildElf({ entry: 0x40000 }),
      "entry point 0x00040000 is not inside an executable segment",
      ElfFormatError,
    ],
    [
      "entry in the data segment",
      buildElf({ entry: DATA }),
      "entry point 0x00011000 is not inside an executable segment",
      ElfFormatError,
    ],
    [
      "misaligned entry",
      buildElf({ entry: TEXT + 0x102 }),
      "entry point 0x00010102 is not 4-byte aligned",
      ElfFormatError,
    ],
    [
      "no PT_LOAD",
      buildElf({ patch: all(seg(0, 0, 4), seg(1, 0, 4)) }),
      "ELF file has no loadable segment (PT_LOAD)",
      ElfFormatError,
    ],
  ];
  for (const [name, bytes, message, kind] of cases) {
    it(`${name}: ${message}`, () => refuse(bytes, message, kind));
  }

  it("refuses when the segments together exceed the limit", () => {
    const bytes = buildElf({ patch: seg(1, 20, 0x2000) });
    expect(() => parseElf(bytes, { maxMemory: 0x2000 })).toThrow(
      "segments claim 8472 bytes in total (limit 8192)",
    );
  });

  it("refuses every truncation of a valid file without crashing", () => {
    const bytes = buildElf();
    for (let n = 0; n < 0x140; n++) {
      expect(() => parseElf(bytes.subarray(0, n))).toThrow(ElfError);
    }
  });

  it("reads a file that is a view into a larger buffer", () => {
    const inner = buildElf();
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(parseElf(outer.subarray(3)).entry).toBe(TEXT + 0x100);
    expect(PAGE_SIZE).toBe(4096);
  });
});

describe("parseElf: real and mutated files", () => {
  const bin = join(import.meta.dirname, "../../guest/bin");
  const elves = readdirSync(bin).filter((f) => f.endsWith(".elf"));

  it("accepts every committed guest program (built by clang/lld)", () => {
    expect(elves.length).toBeGreaterThan(0);
    for (const name of elves) {
      const elf = parseElf(new Uint8Array(readFileSync(join(bin, name))));
      expect(elf.segments.some((s) => (s.prot & PROT_EXEC) !== 0)).toBe(true);
      expect(elf.phdrAddr).not.toBe(0);
    }
  });

  it("either parses or throws an ElfError for any mutation of a valid file", () => {
    const base = buildElf();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 0x140 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (edits) => {
          const bytes = base.slice();
          for (const [at, value] of edits) bytes[at] = value;
          try {
            const elf = parseElf(bytes);
            for (const s of elf.segments) {
              expect(s.offset + s.filesz).toBeLessThanOrEqual(bytes.length);
              expect(s.vaddr).toBeGreaterThanOrEqual(0x10000);
              expect(s.vaddr + s.memsz).toBeLessThanOrEqual(0xc0000000);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(ElfError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
