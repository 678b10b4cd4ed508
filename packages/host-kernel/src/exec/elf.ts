import { ElfFormatError, ElfLimitError, ElfUnsupportedError } from "./elf-errors.ts";

/** Segment protections, with Linux's (and vm-types') values. */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export const EM_RISCV = 243;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const EF_RISCV_RVC = 0x1;
export const EF_RISCV_FLOAT_ABI = 0x6;
export const EF_RISCV_RVE = 0x8;

export const ELF32_EHDR_SIZE = 52;
export const ELF32_PHDR_SIZE = 32;

/** The user part of the address space: segments must lie inside it. */
export const USER_LOW = 0x0001_0000;
export const USER_HIGH = 0xc000_0000; // exclusive

const PAGE = 4096;

export interface ElfLimits {
  /** Most bytes of memory one segment, or all of them together, may claim (default 512 MiB). */
  maxMemory?: number;
  /** Most program headers (default 64). */
  maxProgramHeaders?: number;
  /**
   * Accept binaries flagged EF_RISCV_RVC (may contain compressed instructions). Off by
   * default: the machine is RV32IMA and would stop on the first compressed instruction
   * with SIGILL; turn it on for a binary known to contain none despite the flag.
   */
  allowRvcFlag?: boolean;
}

export const DEFAULT_ELF_LIMITS: Required<ElfLimits> = {
  maxMemory: 512 * 1024 * 1024,
  maxProgramHeaders: 64,
  allowRvcFlag: false,
};

export interface ElfSegment {
  vaddr: number;
  memsz: number;
  filesz: number;
  offset: number;
  /** PROT_READ | PROT_WRITE | PROT_EXEC, from p_flags. */
  prot: number;
  align: number;
}

export interface ElfImage {
  entry: number;
  /** PT_LOAD segments with a non-zero memory size, in file order. */
  segments: ElfSegment[];
  /** Where the program headers are in memory (for AT_PHDR), or 0 if no segment maps them. */
  phdrAddr: number;
  phnum: number;
  phent: number;
  /** e_flags, for the curious (RVC, float ABI). */
  flags: number;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, "0")}`;

/**
 * Parse and validate a static ELF32 RISC-V executable. Everything is checked before anything
 * is allocated for it: the caller may map the segments it returns without further checks.
 * Segments are numbered as `readelf -l` numbers program headers (from 0).
 */
export function parseElf(bytes: Uint8Array, limits: ElfLimits = {}): ElfImage {
  const lim = { ...DEFAULT_ELF_LIMITS, ...limits };
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfFormatError("not an ELF file (bad magic)");
  }
  if (bytes.length < ELF32_EHDR_SIZE) {
    throw new ElfFormatError(`ELF file truncated: ${bytes.length} bytes is shorter than the ELF header`);
  }
  const cls = bytes[4]!;
  if (cls === 2) throw new ElfUnsupportedError("ELF class 64 is not supported: vkc runs RV32 (ELFCLASS32)");
  if (cls !== 1) throw new ElfFormatError(`ELF class ${cls} is not valid (expected 1, ELFCLASS32)`);
  const data = bytes[5]!;
  if (data === 2)
    throw new ElfUnsupportedError("big-endian ELF files are not supported: RISC-V is little-endian");
  if (data !== 1)
    throw new ElfFormatError(`ELF data encoding ${data} is not valid (expected 1, little-endian)`);
  if (bytes[6] !== 1)
    throw new ElfFormatError(`ELF identification version ${bytes[6]} is not supported (expected 1)`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number): number => view.getUint16(o, true);
  const u32 = (o: number): number => view.getUint32(o, true);

  const type = u16(16);
  if (type === ET_DYN) throw new ElfUnsupportedError("position-independent executables are not supported");
  if (type === 1)
    throw new ElfUnsupportedError("relocatable object files cannot be run: link the program first");
  if (type === 4) throw new ElfUnsupportedError("core files cannot be run");
  if (type !== ET_EXEC)
    throw new ElfFormatError(`ELF type ${type} is not an executable (expected 2, ET_EXEC)`);
  const machine = u16(18);
  if (machine !== EM_RISCV)
    throw new ElfUnsupportedError(`ELF machine ${machine} is not RISC-V (${EM_RISCV})`);
  const version = u32(20);
  if (version !== 1) throw new ElfFormatError(`ELF version ${version} is not supported (expected 1)`);
  const entry = u32(24);
  const phoff = u32(28);
  const flags = u32(36);
  const ehsize = u16(40);
  const phentsize = u16(42);
  const phnum = u16(44);
  if (ehsize !== ELF32_EHDR_SIZE) {
    throw new ElfFormatError(`ELF header size ${ehsize} is wrong (expected ${ELF32_EHDR_SIZE})`);
  }
  if (phentsize !== ELF32_PHDR_SIZE) {
    throw new ElfFormatError(`program header size ${phentsize} is wrong (expected ${ELF32_PHDR_SIZE})`);
  }
  if (phnum === 0) throw new ElfFormatError("ELF file has no program headers");
  if (phnum > lim.maxProgramHeaders) {
    throw new ElfLimitError(`ELF file has ${phnum} program headers (limit ${lim.maxProgramHeaders})`);
  }
  if (phoff < ELF32_EHDR_SIZE || phoff + phnum * ELF32_PHDR_SIZE > bytes.length) {
    throw new ElfFormatError(
      `program headers at offset ${phoff} (${phnum} × ${ELF32_PHDR_SIZE} bytes) lie outside the file (${bytes.length} bytes)`,
    );
  }

  checkFlags(flags, lim.allowRvcFlag);

  const segments: ElfSegment[] = [];
  const numbers: number[] = [];
  let total = 0;
  let phdrAddr = 0;
  let phdrFromLoad = 0;
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * ELF32_PHDR_SIZE;
    const ptype = u32(h);
    if (ptype === PT_INTERP) {
      throw new ElfUnsupportedError(
        "dynamically linked programs are not supported (PT_INTERP): link with -static",
      );
    }
    if (ptype === PT_DYNAMIC) {
      throw new ElfUnsupportedError(
        "dynamically linked programs are not supported (PT_DYNAMIC): link with -static",
      );
    }
    if (ptype === PT_PHDR) phdrAddr = u32(h + 8);
    if (ptype !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: u32(h + 4),
      vaddr: u32(h + 8),
      filesz: u32(h + 16),
      memsz: u32(h + 20),
      prot: protOf(u32(h + 24)),
      align: u32(h + 28),
    };
    checkSegment(i, seg, bytes.length, lim.maxMemory);
    if (seg.memsz === 0) continue;
    for (let k = 0; k < segments.length; k++) {
      const at = pageOverlap(segments[k]!, seg);
      if (at !== -1) throw new ElfFormatError(`segment ${i} overlaps segment ${numbers[k]} at ${hex(at)}`);
    }
    total += seg.memsz;
    if (total > lim.maxMemory) {
      throw new ElfLimitError(`segments claim ${total} bytes in total (limit ${lim.maxMemory})`);
    }
    if (
      phdrFromLoad === 0 &&
      phoff >= seg.offset &&
      phoff + phnum * ELF32_PHDR_SIZE <= seg.offset + seg.filesz
    ) {
      phdrFromLoad = seg.vaddr + (phoff - seg.offset);
    }
    segments.push(seg);
    numbers.push(i);
  }
  if (segments.length === 0) throw new ElfFormatError("ELF file has no loadable segment (PT_LOAD)");

  const code = segments.find(
    (s) => (s.prot & PROT_EXEC) !== 0 && entry >= s.vaddr && entry < s.vaddr + s.memsz,
  );
  if (code === undefined) {
    throw new ElfFormatError(`entry point ${hex(entry)} is not inside an executable segment`);
  }
  if ((entry & 3) !== 0) throw new ElfFormatError(`entry point ${hex(entry)} is not 4-byte aligned`);

  return {
    entry,
    segments,
    phdrAddr: phdrAddr !== 0 ? phdrAddr : phdrFromLoad,
    phnum,
    phent: ELF32_PHDR_SIZE,
    flags,
  };
}

function checkFlags(flags: number, allowRvc: boolean): void {
  if ((flags & EF_RISCV_RVE) !== 0) {
    throw new ElfUnsupportedError("RV32E binaries (EF_RISCV_RVE) are not supported: build for rv32ima");
  }
  const abi = flags & EF_RISCV_FLOAT_ABI;
  if (abi !== 0) {
    const name = abi === 2 ? "single" : abi === 4 ? "double" : "quad";
    throw new ElfUnsupportedError(
      `float ABI "${name}" is not supported: vkc has no F/D registers (build with -mabi=ilp32)`,
    );
  }
  if ((flags & EF_RISCV_RVC) !== 0 && !allowRvc) {
    throw new ElfUnsupportedError(
      "compressed instructions (EF_RISCV_RVC) are not supported: build with -march=rv32ima",
    );
  }
}

function protOf(pflags: number): number {
  return (
    ((pflags & PF_R) !== 0 ? PROT_READ : 0) |
    ((pflags & PF_W) !== 0 ? PROT_WRITE : 0) |
    ((pflags & PF_X) !== 0 ? PROT_EXEC : 0)
  );
}

function checkSegment(i: number, s: ElfSegment, fileSize: number, maxMemory: number): void {
  if (s.filesz > s.memsz) {
    throw new ElfFormatError(`segment ${i} has ${s.filesz} file bytes but only ${s.memsz} bytes of memory`);
  }
  if (s.offset + s.filesz > fileSize) {
    throw new ElfFormatError(
      `segment ${i} reads file bytes ${s.offset}..${s.offset + s.filesz} beyond the end of the file (${fileSize} bytes)`,
    );
  }
  if (s.memsz > maxMemory)
    throw new ElfLimitError(`segment ${i} claims ${s.memsz} bytes (limit ${maxMemory})`);
  if (s.memsz === 0) return;
  const end = s.vaddr + s.memsz; // exact: both are below 2^32
  if (end > 2 ** 32)
    throw new ElfFormatError(`segment ${i} at ${hex(s.vaddr)} wraps around the address space`);
  if (s.vaddr < USER_LOW || end > USER_HIGH) {
    throw new ElfFormatError(
      `segment ${i} at ${hex(s.vaddr)}..${hex(end)} is outside user space (${hex(USER_LOW)}..${hex(USER_HIGH)})`,
    );
  }
  if (s.align > 1) {
    if ((s.align & (s.align - 1)) !== 0) {
      throw new ElfFormatError(`segment ${i} alignment ${s.align} is not a power of two`);
    }
    if (s.vaddr % s.align !== s.offset % s.align) {
      throw new ElfFormatError(
        `segment ${i} address ${hex(s.vaddr)} and file offset ${s.offset} disagree modulo its alignment ${s.align}`,
      );
    }
  }
}

/** The first page address two segments both touch, or -1. */
function pageOverlap(a: ElfSegment, b: ElfSegment): number {
  const aLo = Math.floor(a.vaddr / PAGE);
  const aHi = Math.ceil((a.vaddr + a.memsz) / PAGE);
  const bLo = Math.floor(b.vaddr / PAGE);
  const bHi = Math.ceil((b.vaddr + b.memsz) / PAGE);
  const lo = Math.max(aLo, bLo);
  return lo < Math.min(aHi, bHi) ? lo * PAGE : -1;
}
