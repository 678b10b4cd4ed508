import { type Fault, Stop } from "./cpu-types.ts";
import { decodeSlot } from "./decode.ts";
import { type DecodedPage, flushDecodeCache, NO_DECODE } from "./decode-cache.ts";
import type { Hart } from "./hart.ts";
import { compileBlock, EXIT_FAULT, EXIT_NONE } from "./jit.ts";
import { div, divu, mulh, mulhsu, mulhu, rem, remu } from "./muldiv.ts";
import { TLB_MASK } from "./tlb.ts";

/**
 * The interpreter's operations. 0 is reserved for "not decoded yet". `execute` spells them as
 * literals (`case 28`, with the name in a comment), because V8 compiles a switch to a jump table
 * only over literal labels, and not every compiler inlines const enums (TypeScript 7 with
 * isolatedModules does not: its dispatch measured 3–4× slower). execute-ops.test.ts checks every
 * literal against its name.
 */
export const enum Op {
  Lui = 1,
  Auipc,
  Jal,
  Jalr,
  Beq,
  Bne,
  Blt,
  Bge,
  Bltu,
  Bgeu,
  Lb,
  Lh,
  Lw,
  Lbu,
  Lhu,
  Sb,
  Sh,
  Sw,
  Addi,
  Slti,
  Sltiu,
  Xori,
  Ori,
  Andi,
  Slli,
  Srli,
  Srai,
  Add,
  Sub,
  Sll,
  Slt,
  Sltu,
  Xor,
  Srl,
  Sra,
  Or,
  And,
  Fence,
  FenceI,
  Ecall,
  Ebreak,
  Wfi,
  Pause,
  CsrRead,
  Mul,
  Mulh,
  Mulhsu,
  Mulhu,
  Div,
  Divu,
  Rem,
  Remu,
  LrW,
  ScW,
  AmoSwap,
  AmoAdd,
  AmoXor,
  AmoAnd,
  AmoOr,
  AmoMin,
  AmoMax,
  AmoMinu,
  AmoMaxu,
  Illegal,
}

const PAGE_BASE = ~0xfff;
const MULDIV = [mulh, mulhsu, mulhu, div, divu, rem, remu] as const;
const TWO_32 = 4294967296;

/**
 * Run `hart` for at most `budget` instructions (see `Hart.run`). One loop, one switch, locals
 * for everything hot; memory accesses hit the TLB arrays inline and fall back to `SoftTlb`'s
 * slow paths on a miss or a misaligned address.
 */
export function execute(hart: Hart, budget: number): Stop {
  const tlb = hart.tlb;
  tlb.sync();
  const r = hart.regs;
  r[0] = 0;
  const rTag = tlb.rTag;
  const rPage = tlb.rPage;
  const wTag = tlb.wTag;
  const wPage = tlb.wPage;
  const wDec = tlb.wDec;
  const res = tlb.mem.reservations;
  // Imported bindings cost a load (or a getter call under some loaders) on every use: copy the
  // ones the hot path needs into locals.
  const noDecode = NO_DECODE;
  const tlbMask = TLB_MASK;
  const [mulhF, mulhsuF, mulhuF, divF, divuF, remF, remuF] = MULDIV;

  let pc = hart.pc | 0;
  let n = 0;
  let stop = Stop.Budget;
  let pageBase = 1; // never a page base: forces a fetch lookup
  let dec: DecodedPage = NO_DECODE;
  let code = dec.code;
  let imms = dec.imm;
  let blocks = dec.blocks;
  let heat = dec.heat;
  const jit = hart.jit;
  const threshold = Math.min(hart.jitThreshold, 254); // 255 marks "not translatable"
  const exitFault = EXIT_FAULT;
  const exitNone = EXIT_NONE;
  hart.fault = 0;

  loop: while (n < budget) {
    if ((pc & PAGE_BASE) !== pageBase) {
      const d = tlb.execPage(pc);
      if (d === null) {
        stop = trapFault(hart, tlb.fault, pc);
        break;
      }
      dec = d;
      code = d.code;
      imms = d.imm;
      blocks = d.blocks;
      heat = d.heat;
      pageBase = pc & PAGE_BASE;
    }
    const slot = (pc >>> 2) & 1023;

    if (jit) {
      const block = blocks[slot]!;
      if (block !== null) {
        tlb.exitKind = exitNone;
        pc = block(r, tlb, pc, budget - n);
        const k = tlb.retired;
        n += k;
        const kind = tlb.exitKind;
        if (kind !== exitNone) {
          stop =
            kind === exitFault
              ? trapFault(hart, tlb.fault, tlb.faultAddr)
              : trapMisaligned(hart, tlb.exitAddr);
          break;
        }
        if (k > 0) continue;
        // Its first segment does not fit in the budget left: the interpreter steps.
      } else {
        const h = heat[slot]!;
        if (h < threshold) heat[slot] = h + 1;
        else if (h === threshold) {
          if (compileBlock(dec, slot)) continue;
          heat[slot] = 255;
        }
      }
    }
    let w = code[slot]!;
    if (w === 0) w = decodeSlot(dec, slot);
    const rd = (w >>> 8) & 63;
    const rs1 = (w >>> 16) & 31;
    const rs2 = w >>> 24;

    switch (w & 0xff) {
      case 1 /* Op.Lui */:
        r[rd] = imms[slot]!;
        break;
      case 2 /* Op.Auipc */:
        r[rd] = pc + imms[slot]!;
        break;
      case 3 /* Op.Jal */:
        {
          const t = (pc + imms[slot]!) | 0;
          if ((t & 3) !== 0) {
            stop = trapMisaligned(hart, t);
            break loop;
          }
          r[rd] = pc + 4;
          pc = t;
          n++;
          continue;
        }
      case 4 /* Op.Jalr */:
        {
          const t = (r[rs1]! + imms[slot]!) & ~1;
          if ((t & 3) !== 0) {
            stop = trapMisaligned(hart, t);
            break loop;
          }
          r[rd] = pc + 4;
          pc = t;
          n++;
          continue;
        }
      case 5 /* Op.Beq */:
      case 6 /* Op.Bne */:
      case 7 /* Op.Blt */:
      case 8 /* Op.Bge */:
      case 9 /* Op.Bltu */:
      case 10 /* Op.Bgeu */:
        {
          const a = r[rs1]!;
          const b = r[rs2]!;
          let taken: boolean;
          switch (w & 0xff) {
            case 5 /* Op.Beq */:
              taken = a === b;
              break;
            case 6 /* Op.Bne */:
              taken = a !== b;
              break;
            case 7 /* Op.Blt */:
              taken = a < b;
              break;
            case 8 /* Op.Bge */:
              taken = a >= b;
              break;
            case 9 /* Op.Bltu */:
              taken = a >>> 0 < b >>> 0;
              break;
            default:
              taken = a >>> 0 >= b >>> 0;
          }
          if (taken) {
            const t = (pc + imms[slot]!) | 0;
            if ((t & 3) !== 0) {
              stop = trapMisaligned(hart, t);
              break loop;
            }
            pc = t;
            n++;
            continue;
          }
          break;
        }

      // Loads: hit the read TLB inline when aligned, else the slow path.
      case 11 /* Op.Lb */:
      case 14 /* Op.Lbu */:
        {
          const a = (r[rs1]! + imms[slot]!) | 0;
          const vpn = a >>> 12;
          const i = vpn & tlbMask;
          let v: number;
          if (rTag[i] === vpn) v = rPage[i]![a & 0xfff]!;
          else {
            v = tlb.load(a, 1);
            if (v < 0) {
              stop = trapFault(hart, tlb.fault, tlb.faultAddr);
              break loop;
            }
          }
          r[rd] = (w & 0xff) === 11 /* Op.Lb */ ? (v << 24) >> 24 : v;
          break;
        }
      case 12 /* Op.Lh */:
      case 15 /* Op.Lhu */:
        {
          const a = (r[rs1]! + imms[slot]!) | 0;
          const vpn = a >>> 12;
          const i = vpn & tlbMask;
          let v: number;
          if ((a & 1) === 0 && rTag[i] === vpn) {
            const p = rPage[i]!;
            const o = a & 0xfff;
            v = p[o]! | (p[o + 1]! << 8);
          } else {
            v = tlb.load(a, 2);
            if (v < 0) {
              stop = trapFault(hart, tlb.fault, tlb.faultAddr);
              break loop;
            }
          }
          r[rd] = (w & 0xff) === 12 /* Op.Lh */ ? (v << 16) >> 16 : v;
          break;
        }
      case 13 /* Op.Lw */:
        {
          const a = (r[rs1]! + imms[slot]!) | 0;
          const vpn = a >>> 12;
          const i = vpn & tlbMask;
          if ((a & 3) === 0 && rTag[i] === vpn) {
            const p = rPage[i]!;
            const o = a & 0xfff;
            r[rd] = p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24);
          } else {
            const v = tlb.load(a, 4);
            if (v < 0) {
              stop = trapFault(hart, tlb.fault, tlb.faultAddr);
              break loop;
            }
            r[rd] = v;
          }
          break;
        }

      // Stores: the write TLB inline when aligned; invalidate a decoded instruction in the
      // word, and break LR reservations when any are held.
      case 16 /* Op.Sb */:
      case 17 /* Op.Sh */:
      case 18 /* Op.Sw */:
        {
          const a = (r[rs1]! + imms[slot]!) | 0;
          const v = r[rs2]!;
          const op = w & 0xff;
          const size = op === 18 /* Op.Sw */ ? 4 : op === 17 /* Op.Sh */ ? 2 : 1;
          const vpn = a >>> 12;
          const i = vpn & tlbMask;
          if ((a & (size - 1)) === 0 && wTag[i] === vpn) {
            const p = wPage[i]!;
            const o = a & 0xfff;
            p[o] = v;
            if (size > 1) {
              p[o + 1] = v >>> 8;
              if (size > 2) {
                p[o + 2] = v >>> 16;
                p[o + 3] = v >>> 24;
              }
            }
            const d = wDec[i]!;
            if (d !== noDecode) d.invalidate(o >>> 2);
            if (res.count > 0) res.breakOverlapping(a >>> 0, size);
          } else if (!tlb.store(a, size, v)) {
            stop = trapFault(hart, tlb.fault, tlb.faultAddr);
            break loop;
          }
          break;
        }

      case 19 /* Op.Addi */:
        r[rd] = r[rs1]! + imms[slot]!;
        break;
      case 20 /* Op.Slti */:
        r[rd] = r[rs1]! < imms[slot]! ? 1 : 0;
        break;
      case 21 /* Op.Sltiu */:
        r[rd] = r[rs1]! >>> 0 < imms[slot]! >>> 0 ? 1 : 0;
        break;
      case 22 /* Op.Xori */:
        r[rd] = r[rs1]! ^ imms[slot]!;
        break;
      case 23 /* Op.Ori */:
        r[rd] = r[rs1]! | imms[slot]!;
        break;
      case 24 /* Op.Andi */:
        r[rd] = r[rs1]! & imms[slot]!;
        break;
      case 25 /* Op.Slli */:
        r[rd] = r[rs1]! << imms[slot]!;
        break;
      case 26 /* Op.Srli */:
        r[rd] = r[rs1]! >>> imms[slot]!;
        break;
      case 27 /* Op.Srai */:
        r[rd] = r[rs1]! >> imms[slot]!;
        break;
      case 28 /* Op.Add */:
        r[rd] = r[rs1]! + r[rs2]!;
        break;
      case 29 /* Op.Sub */:
        r[rd] = r[rs1]! - r[rs2]!;
        break;
      case 30 /* Op.Sll */:
        r[rd] = r[rs1]! << r[rs2]!;
        break;
      case 31 /* Op.Slt */:
        r[rd] = r[rs1]! < r[rs2]! ? 1 : 0;
        break;
      case 32 /* Op.Sltu */:
        r[rd] = r[rs1]! >>> 0 < r[rs2]! >>> 0 ? 1 : 0;
        break;
      case 33 /* Op.Xor */:
        r[rd] = r[rs1]! ^ r[rs2]!;
        break;
      case 34 /* Op.Srl */:
        r[rd] = r[rs1]! >>> r[rs2]!;
        break;
      case 35 /* Op.Sra */:
        r[rd] = r[rs1]! >> r[rs2]!;
        break;
      case 36 /* Op.Or */:
        r[rd] = r[rs1]! | r[rs2]!;
        break;
      case 37 /* Op.And */:
        r[rd] = r[rs1]! & r[rs2]!;
        break;

      case 45 /* Op.Mul */:
        r[rd] = Math.imul(r[rs1]!, r[rs2]!);
        break;
      case 46 /* Op.Mulh */:
        r[rd] = mulhF(r[rs1]!, r[rs2]!);
        break;
      case 47 /* Op.Mulhsu */:
        r[rd] = mulhsuF(r[rs1]!, r[rs2]!);
        break;
      case 48 /* Op.Mulhu */:
        r[rd] = mulhuF(r[rs1]!, r[rs2]!);
        break;
      case 49 /* Op.Div */:
        r[rd] = divF(r[rs1]!, r[rs2]!);
        break;
      case 50 /* Op.Divu */:
        r[rd] = divuF(r[rs1]!, r[rs2]!);
        break;
      case 51 /* Op.Rem */:
        r[rd] = remF(r[rs1]!, r[rs2]!);
        break;
      case 52 /* Op.Remu */:
        r[rd] = remuF(r[rs1]!, r[rs2]!);
        break;

      case 38 /* Op.Fence */:
        break;
      case 43 /* Op.Pause */:
        if (hart.yieldOnPause) {
          pc = (pc + 4) | 0;
          n++;
          stop = Stop.Yield;
          break loop;
        }
        break;
      case 39 /* Op.FenceI */:
        flushDecodeCache();
        tlb.flushCode();
        pageBase = 1;
        break;
      case 40 /* Op.Ecall */:
        stop = Stop.Ecall;
        break loop;
      case 41 /* Op.Ebreak */:
        stop = Stop.Ebreak;
        break loop;
      case 42 /* Op.Wfi */:
        // WFI retires (so the kernel need not step over it) and hands the CPU back.
        pc = (pc + 4) | 0;
        n++;
        stop = Stop.Yield;
        break loop;
      case 44 /* Op.CsrRead */:
        {
          // cycle, time and instret all read the retired-instruction count: virtual time.
          const count = hart.instret + n;
          r[rd] = (imms[slot]! & 0x80) !== 0 ? Math.floor(count / TWO_32) : count % TWO_32;
          break;
        }

      case 53 /* Op.LrW */:
      case 54 /* Op.ScW */:
      case 55 /* Op.AmoSwap */:
      case 56 /* Op.AmoAdd */:
      case 57 /* Op.AmoXor */:
      case 58 /* Op.AmoAnd */:
      case 59 /* Op.AmoOr */:
      case 60 /* Op.AmoMin */:
      case 61 /* Op.AmoMax */:
      case 62 /* Op.AmoMinu */:
      case 63 /* Op.AmoMaxu */:
        {
          const s = atomic(hart, (w & 0xff) as Op, rd, rs1, rs2);
          if (s !== Stop.Budget) {
            stop = s;
            break loop;
          }
          // An SC or AMO may have stored into the page we are executing: `code` sees it.
          break;
        }

      default:
        hart.trapValue = imms[slot]! >>> 0;
        stop = Stop.Illegal;
        break loop;
    }
    pc = (pc + 4) | 0;
    n++;
  }

  hart.pc = pc >>> 0;
  hart.retired = n;
  hart.instret += n;
  return stop;
}

function trapFault(hart: Hart, fault: Fault | 0, addr: number): Stop {
  hart.fault = fault;
  hart.trapValue = addr >>> 0;
  return Stop.MemoryFault;
}

function trapMisaligned(hart: Hart, addr: number): Stop {
  hart.trapValue = addr >>> 0;
  return Stop.Misaligned;
}

/**
 * LR.W, SC.W and the AMO*.W: naturally aligned words only (else Stop.Misaligned). Returns
 * Stop.Budget when the instruction completed. The aq/rl bits need nothing: harts run one at a
 * time, so every access is already sequentially consistent.
 */
function atomic(hart: Hart, op: Op, rd: number, rs1: number, rs2: number): Stop {
  const r = hart.regs;
  const tlb = hart.tlb;
  const res = tlb.mem.reservations;
  const a = r[rs1]! | 0;
  if ((a & 3) !== 0) return trapMisaligned(hart, a);
  const o = a & 0xfff;

  if (op === Op.LrW) {
    const p = tlb.readPage(a);
    if (p === null) return trapFault(hart, tlb.fault, tlb.faultAddr);
    r[rd] = p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24);
    res.reserve(hart, a >>> 0);
    return Stop.Budget;
  }

  if (op === Op.ScW) {
    if (!res.consume(hart, a >>> 0)) {
      r[rd] = 1;
      return Stop.Budget;
    }
    const p = tlb.writePage(a);
    if (p === null) return trapFault(hart, tlb.fault, tlb.faultAddr);
    writeWord(tlb.lastDec, p, o, r[rs2]!);
    if (res.count > 0) res.breakOverlapping(a >>> 0, 4);
    r[rd] = 0;
    return Stop.Budget;
  }

  // AMO: needs the word readable and writable.
  if (tlb.readPage(a) === null) return trapFault(hart, tlb.fault, tlb.faultAddr);
  const p = tlb.writePage(a);
  if (p === null) return trapFault(hart, tlb.fault, tlb.faultAddr);
  const old = p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24);
  const src = r[rs2]!;
  let v: number;
  switch (op) {
    case Op.AmoSwap:
      v = src;
      break;
    case Op.AmoAdd:
      v = (old + src) | 0;
      break;
    case Op.AmoXor:
      v = old ^ src;
      break;
    case Op.AmoAnd:
      v = old & src;
      break;
    case Op.AmoOr:
      v = old | src;
      break;
    case Op.AmoMin:
      v = Math.min(old, src);
      break;
    case Op.AmoMax:
      v = Math.max(old, src);
      break;
    case Op.AmoMinu:
      v = old >>> 0 < src >>> 0 ? old : src;
      break;
    default:
      v = old >>> 0 > src >>> 0 ? old : src;
  }
  writeWord(tlb.lastDec, p, o, v);
  if (res.count > 0) res.breakOverlapping(a >>> 0, 4);
  r[rd] = old;
  return Stop.Budget;
}

function writeWord(dec: DecodedPage, p: Uint8Array, o: number, v: number): void {
  p[o] = v;
  p[o + 1] = v >>> 8;
  p[o + 2] = v >>> 16;
  p[o + 3] = v >>> 24;
  if (dec !== NO_DECODE) dec.invalidate(o >>> 2);
}
