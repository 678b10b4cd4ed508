/**
 * A tiny RV32IMA encoder for tests: one function per instruction, returning the 32-bit word
 * (as an unsigned number). Registers are numbers 0..31; immediates are checked for range so a
 * test cannot silently encode something else than it meant.
 */

function reg(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new RangeError(`bad register x${r}`);
  return r;
}

function simm(v: number, bits: number, what: string): number {
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${what} ${v} out of range`);
  return v;
}

export function rType(f7: number, rs2: number, rs1: number, f3: number, rd: number, opcode: number): number {
  return ((f7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

export function iType(imm: number, rs1: number, f3: number, rd: number, opcode: number): number {
  return (((imm & 0xfff) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

function sType(imm: number, rs2: number, rs1: number, f3: number, opcode: number): number {
  simm(imm, 12, "store offset");
  return (
    ((((imm >> 5) & 0x7f) << 25) |
      (reg(rs2) << 20) |
      (reg(rs1) << 15) |
      (f3 << 12) |
      ((imm & 31) << 7) |
      opcode) >>>
    0
  );
}

function bType(off: number, rs2: number, rs1: number, f3: number): number {
  simm(off, 13, "branch offset");
  if (off & 1) throw new RangeError(`branch offset ${off} is odd`);
  return (
    ((((off >> 12) & 1) << 31) |
      (((off >> 5) & 0x3f) << 25) |
      (reg(rs2) << 20) |
      (reg(rs1) << 15) |
      (f3 << 12) |
      (((off >> 1) & 0xf) << 8) |
      (((off >> 11) & 1) << 7) |
      0x63) >>>
    0
  );
}

const i12 = (imm: number): number => simm(imm, 12, "immediate");

export const lui = (rd: number, imm20: number): number => ((imm20 << 12) | (reg(rd) << 7) | 0x37) >>> 0;
export const auipc = (rd: number, imm20: number): number => ((imm20 << 12) | (reg(rd) << 7) | 0x17) >>> 0;
export function jal(rd: number, off: number): number {
  simm(off, 21, "jump offset");
  if (off & 1) throw new RangeError(`jump offset ${off} is odd`);
  return (
    ((((off >> 20) & 1) << 31) |
      (((off >> 1) & 0x3ff) << 21) |
      (((off >> 11) & 1) << 20) |
      (((off >> 12) & 0xff) << 12) |
      (reg(rd) << 7) |
      0x6f) >>>
    0
  );
}
export const jalr = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 0, rd, 0x67);

export const beq = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 0);
export const bne = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 1);
export const blt = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 4);
export const bge = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 5);
export const bltu = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 6);
export const bgeu = (rs1: number, rs2: number, off: number): number => bType(off, rs2, rs1, 7);

export const lb = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 0, rd, 0x03);
export const lh = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 1, rd, 0x03);
export const lw = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 2, rd, 0x03);
export const lbu = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 4, rd, 0x03);
export const lhu = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 5, rd, 0x03);
export const sb = (rs2: number, rs1: number, imm: number): number => sType(imm, rs2, rs1, 0, 0x23);
export const sh = (rs2: number, rs1: number, imm: number): number => sType(imm, rs2, rs1, 1, 0x23);
export const sw = (rs2: number, rs1: number, imm: number): number => sType(imm, rs2, rs1, 2, 0x23);

export const addi = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 0, rd, 0x13);
export const slti = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 2, rd, 0x13);
export const sltiu = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 3, rd, 0x13);
export const xori = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 4, rd, 0x13);
export const ori = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 6, rd, 0x13);
export const andi = (rd: number, rs1: number, imm: number): number => iType(i12(imm), rs1, 7, rd, 0x13);
export const slli = (rd: number, rs1: number, sh: number): number => iType(sh & 31, rs1, 1, rd, 0x13);
export const srli = (rd: number, rs1: number, sh: number): number => iType(sh & 31, rs1, 5, rd, 0x13);
export const srai = (rd: number, rs1: number, sh: number): number =>
  iType(0x400 | (sh & 31), rs1, 5, rd, 0x13);

const op = (f7: number, f3: number) => (rd: number, rs1: number, rs2: number) =>
  rType(f7, rs2, rs1, f3, rd, 0x33);
export const add = op(0, 0);
export const sub = op(0x20, 0);
export const sll = op(0, 1);
export const slt = op(0, 2);
export const sltu = op(0, 3);
export const xor = op(0, 4);
export const srl = op(0, 5);
export const sra = op(0x20, 5);
export const or = op(0, 6);
export const and = op(0, 7);
export const mul = op(1, 0);
export const mulh = op(1, 1);
export const mulhsu = op(1, 2);
export const mulhu = op(1, 3);
export const div = op(1, 4);
export const divu = op(1, 5);
export const rem = op(1, 6);
export const remu = op(1, 7);

export const fence = (): number => 0x0ff0000f;
export const fence_i = (): number => 0x0000100f;
export const pause = (): number => 0x0100000f;
export const ecall = (): number => 0x00000073;
export const ebreak = (): number => 0x00100073;
export const wfi = (): number => 0x10500073;
export const csrrs = (rd: number, csr: number, rs1: number): number => iType(csr, rs1, 2, rd, 0x73);
export const csrrw = (rd: number, csr: number, rs1: number): number => iType(csr, rs1, 1, rd, 0x73);

/** An A-extension instruction; `aq`/`rl` default to 0. */
const amo =
  (f5: number) =>
  (rd: number, rs1: number, rs2: number, aq = 0, rl = 0): number =>
    rType((f5 << 2) | (aq << 1) | rl, rs2, rs1, 2, rd, 0x2f);
export const lr_w = (rd: number, rs1: number, aq = 0, rl = 0): number => amo(0b00010)(rd, rs1, 0, aq, rl);
export const sc_w = amo(0b00011);
export const amoswap_w = amo(0b00001);
export const amoadd_w = amo(0b00000);
export const amoxor_w = amo(0b00100);
export const amoand_w = amo(0b01100);
export const amoor_w = amo(0b01000);
export const amomin_w = amo(0b10000);
export const amomax_w = amo(0b10100);
export const amominu_w = amo(0b11000);
export const amomaxu_w = amo(0b11100);

/** `li rd, value` as LUI+ADDI (always two words, so offsets stay predictable). */
export function li(rd: number, value: number): number[] {
  const v = value | 0;
  const lo = (v << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  return [lui(rd, hi), addi(rd, rd, lo)];
}
