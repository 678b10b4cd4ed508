/**
 * A minimal static RV32 ELF for isolation tests: it loads (or stores) one word at a fixed
 * address and exits with the loaded value's low byte (0 after a store). A guest that may not
 * touch that address dies of SIGSEGV (status 139) instead.
 */
const lui = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
const lw = (rd: number, rs1: number): number => ((rs1 << 15) | (2 << 12) | (rd << 7) | 0x03) >>> 0;
const sw = (rs2: number, rs1: number): number => ((rs2 << 20) | (rs1 << 15) | (2 << 12) | 0x23) >>> 0;
const ECALL = 0x73;

export const PROBE_BASE = 0x10000;
const HEADERS = 52 + 32;

/** The ELF bytes of a probe that reads (or writes) the word at `addr` (page aligned). */
export function probeElf(addr: number, write = false): Uint8Array {
  return elfOf([
    lui(5, addr >>> 12),
    write ? sw(5, 5) : lw(10, 5),
    ...(write ? [addi(10, 0, 0)] : []),
    addi(17, 0, 93),
    ECALL,
  ]);
}

/** `rd = value` for any 32-bit value (lui + addi). */
function li(rd: number, value: number): number[] {
  const v = value | 0;
  return [lui(rd, ((v + 0x800) >>> 12) & 0xfffff), addi(rd, rd, v & 0xfff)];
}

/** Where `syscallProbeElf` puts its `data` bytes (right after its code, in the same page). */
export const PROBE_DATA = PROBE_BASE + 0x800;

/**
 * The ELF bytes of a probe that makes one syscall `nr(args…)` and exits with its result's low
 * byte (a -errno shows as 256 - errno). `data` (at most 2 KiB) is placed at PROBE_DATA, for
 * paths and buffers.
 */
export function syscallProbeElf(nr: number, args: readonly number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (args.length > 6) throw new RangeError("at most 6 arguments");
  return codeProbeElf([...args.flatMap((a, i) => li(10 + i, a)), ...li(17, nr), ECALL], data);
}

/** The ELF bytes of a probe that loads the byte at `addr` and exits with it (`data` as above). */
export function loadByteProbeElf(addr: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hi = ((addr + 0x800) >>> 12) & 0xfffff;
  const lo = (addr - hi * 4096) & 0xfff;
  return codeProbeElf([lui(5, hi), ((lo << 20) | (5 << 15) | (4 << 12) | (10 << 7) | 0x03) >>> 0], data);
}

/** A probe running `code` and then exit(a0); `data` (at most 2 KiB) goes to PROBE_DATA. */
function codeProbeElf(code: readonly number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (data.length > 0x800) throw new RangeError("at most 2 KiB of data");
  return elfOf([...code, addi(17, 0, 93), ECALL], data);
}

function elfOf(code: readonly number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (HEADERS + code.length * 4 > PROBE_DATA - PROBE_BASE) throw new RangeError("probe code too long");
  const size = data.length > 0 ? PROBE_DATA - PROBE_BASE + data.length : HEADERS + code.length * 4;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setUint32(24, PROBE_BASE + HEADERS, true); // entry
  v.setUint32(28, 52, true); // phoff
  v.setUint16(40, 52, true); // ehsize
  v.setUint16(42, 32, true); // phentsize
  v.setUint16(44, 1, true); // phnum
  v.setUint16(46, 40, true); // shentsize
  // PT_LOAD, offset 0, vaddr/paddr PROBE_BASE, filesz = memsz = size, R+W+X, align 4096.
  v.setUint32(52, 1, true);
  v.setUint32(56, 0, true);
  v.setUint32(60, PROBE_BASE, true);
  v.setUint32(64, PROBE_BASE, true);
  v.setUint32(68, size, true);
  v.setUint32(72, size, true);
  v.setUint32(76, data.length > 0 ? 7 : 5, true);
  v.setUint32(80, 0x1000, true);
  code.forEach((w, i) => v.setUint32(HEADERS + i * 4, w, true));
  if (data.length > 0) b.set(data, PROBE_DATA - PROBE_BASE);
  return b;
}
