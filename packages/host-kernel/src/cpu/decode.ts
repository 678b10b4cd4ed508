import type { DecodedPage } from "./decode-cache.ts";
import { Op } from "./execute.ts";

/**
 * Decoding of one RV32IMA instruction word into the interpreter's form:
 *
 *   code = op | rd << 8 | rs1 << 16 | rs2 << 24        imm = the sign-extended immediate
 *
 * `rd` is 6 bits wide: a write to x0 is decoded as a write to register 32, a sink the
 * interpreter never reads, so no instruction has to test for x0. `op` is never 0 (0 marks an
 * undecoded slot). Anything outside RV32IMA user mode decodes to `Op.Illegal` with the word in
 * `imm`.
 */
export interface Decoded {
  code: number;
  imm: number;
}

/** Counter CSRs readable from user mode: cycle, time, instret and their high halves. */
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
export const CSR_CYCLEH = 0xc80;
export const CSR_TIMEH = 0xc81;
export const CSR_INSTRETH = 0xc82;

function pack(op: Op, rd: number, rs1: number, rs2: number): number {
  return op | ((rd === 0 ? 32 : rd) << 8) | (rs1 << 16) | (rs2 << 24);
}

const immI = (w: number): number => w >> 20;
const immS = (w: number): number => ((w >> 20) & ~31) | ((w >>> 7) & 31);
const immB = (w: number): number =>
  ((w >> 19) & ~0xfff) | ((w << 4) & 0x800) | ((w >>> 20) & 0x7e0) | ((w >>> 7) & 0x1e);
const immU = (w: number): number => w & ~0xfff;
const immJ = (w: number): number =>
  ((w >> 11) & ~0xfffff) | (w & 0xff000) | ((w >>> 9) & 0x800) | ((w >>> 20) & 0x7fe);

// The tables are built on first use: this module and execute.ts import each other.
let tables: Tables | undefined;

interface Tables {
  loads: Op[];
  stores: Op[];
  branches: Op[];
  aluImm: Op[];
  alu: Op[];
  mulDiv: Op[];
  /** AMO*.W by funct5 (bits 31..27); LR and SC are handled apart. */
  amos: Map<number, Op>;
}

function buildTables(): Tables {
  const I = Op.Illegal;
  return {
    loads: [Op.Lb, Op.Lh, Op.Lw, I, Op.Lbu, Op.Lhu, I, I],
    stores: [Op.Sb, Op.Sh, Op.Sw, I, I, I, I, I],
    branches: [Op.Beq, Op.Bne, I, I, Op.Blt, Op.Bge, Op.Bltu, Op.Bgeu],
    aluImm: [Op.Addi, Op.Slli, Op.Slti, Op.Sltiu, Op.Xori, Op.Srli, Op.Ori, Op.Andi],
    alu: [Op.Add, Op.Sll, Op.Slt, Op.Sltu, Op.Xor, Op.Srl, Op.Or, Op.And],
    mulDiv: [Op.Mul, Op.Mulh, Op.Mulhsu, Op.Mulhu, Op.Div, Op.Divu, Op.Rem, Op.Remu],
    amos: new Map([
      [0b00001, Op.AmoSwap],
      [0b00000, Op.AmoAdd],
      [0b00100, Op.AmoXor],
      [0b01100, Op.AmoAnd],
      [0b01000, Op.AmoOr],
      [0b10000, Op.AmoMin],
      [0b10100, Op.AmoMax],
      [0b11000, Op.AmoMinu],
      [0b11100, Op.AmoMaxu],
    ]),
  };
}

const WORD_WFI = 0x10500073;
const WORD_PAUSE = 0x0100000f;

/** Decode `word` into `out` and return `out`. */
export function decode(word: number, out: Decoded): Decoded {
  if (tables === undefined) tables = buildTables();
  const t = tables;
  const w = word | 0;
  const rd = (w >>> 7) & 31;
  const rs1 = (w >>> 15) & 31;
  const rs2 = (w >>> 20) & 31;
  const f3 = (w >>> 12) & 7;
  const f7 = w >>> 25;
  out.imm = 0;
  let op: Op = Op.Illegal;
  switch (w & 0x7f) {
    case 0x37: // LUI
      op = Op.Lui;
      out.imm = immU(w);
      break;
    case 0x17: // AUIPC
      op = Op.Auipc;
      out.imm = immU(w);
      break;
    case 0x6f: // JAL
      op = Op.Jal;
      out.imm = immJ(w);
      break;
    case 0x67: // JALR
      if (f3 === 0) {
        op = Op.Jalr;
        out.imm = immI(w);
      }
      break;
    case 0x63: // BRANCH
      op = t.branches[f3]!;
      out.imm = immB(w);
      break;
    case 0x03: // LOAD
      op = t.loads[f3]!;
      out.imm = immI(w);
      break;
    case 0x23: // STORE
      op = t.stores[f3]!;
      out.imm = immS(w);
      break;
    case 0x13: // OP-IMM
      op = t.aluImm[f3]!;
      out.imm = immI(w);
      if (f3 === 1) {
        if (f7 !== 0) op = Op.Illegal;
        out.imm = rs2;
      } else if (f3 === 5) {
        if (f7 === 0x20) op = Op.Srai;
        else if (f7 !== 0) op = Op.Illegal;
        out.imm = rs2;
      }
      break;
    case 0x33: // OP
      if (f7 === 0) op = t.alu[f3]!;
      else if (f7 === 1) op = t.mulDiv[f3]!;
      else if (f7 === 0x20 && f3 === 0) op = Op.Sub;
      else if (f7 === 0x20 && f3 === 5) op = Op.Sra;
      break;
    case 0x0f: // MISC-MEM
      if (f3 === 0) op = w === WORD_PAUSE ? Op.Pause : Op.Fence;
      else if (f3 === 1) op = Op.FenceI;
      break;
    case 0x73: // SYSTEM
      op = decodeSystem(w, f3, rs1);
      if (op === Op.CsrRead) out.imm = w >>> 20;
      break;
    case 0x2f: // AMO
      if (f3 === 2) {
        const f5 = w >>> 27;
        if (f5 === 0b00010) op = rs2 === 0 ? Op.LrW : Op.Illegal;
        else if (f5 === 0b00011) op = Op.ScW;
        else op = t.amos.get(f5) ?? Op.Illegal;
      }
      break;
  }
  if (op === Op.Illegal) {
    // A 16-bit (compressed) parcel: report just those bits, as a trap value would.
    out.imm = (w & 3) !== 3 ? w & 0xffff : w;
    out.code = Op.Illegal;
    return out;
  }
  out.code = pack(op, rd, rs1, rs2);
  return out;
}

function decodeSystem(w: number, f3: number, rs1: number): Op {
  if (f3 === 0) {
    if (w === 0x00000073) return Op.Ecall;
    if (w === 0x00100073) return Op.Ebreak;
    if (w === WORD_WFI) return Op.Wfi;
    return Op.Illegal;
  }
  // Only reads of the unprivileged counters: CSRRS/CSRRC with rs1 = x0, CSRRSI/CSRRCI with
  // uimm = 0 (they write nothing). Any write, or any other CSR, is illegal.
  if ((f3 === 2 || f3 === 3 || f3 === 6 || f3 === 7) && rs1 === 0) {
    const csr = w >>> 20;
    if (
      csr === CSR_CYCLE ||
      csr === CSR_TIME ||
      csr === CSR_INSTRET ||
      csr === CSR_CYCLEH ||
      csr === CSR_TIMEH ||
      csr === CSR_INSTRETH
    ) {
      return Op.CsrRead;
    }
  }
  return Op.Illegal;
}

/** Scratch for `decodeSlot`, reused (no allocation per decoded instruction). */
const scratch: Decoded = { code: 0, imm: 0 };

/** Decode the instruction in `slot` of `d`'s page into `d`, and return its code. */
export function decodeSlot(d: DecodedPage, slot: number): number {
  const p = d.page;
  const o = slot << 2;
  decode(p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24), scratch);
  d.imm[slot] = scratch.imm;
  d.code[slot] = scratch.code;
  return scratch.code;
}
