import { decodeSlot } from "./decode.ts";
import { type BlockFn, type DecodedPage, NO_DECODE, SLOTS_PER_PAGE } from "./decode-cache.ts";
import { Op } from "./execute.ts";
import { div, divu, mulh, mulhsu, mulhu, rem, remu } from "./muldiv.ts";
import { TLB_MASK } from "./tlb.ts";

/**
 * Basic-block translation: a hot run of straight-line instructions (ending with the first jump or
 * branch, before the first instruction that needs the interpreter, at the end of the page, or
 * after MAX_BLOCK instructions) becomes one JavaScript function built with the Function
 * constructor, with registers as constant indexes into the register array and immediates as
 * literals. The interpreter stays the reference and the fallback: it runs everything a block
 * cannot (ECALL, EBREAK, WFI, PAUSE, FENCE.I, counter reads, LR/SC/AMO, illegal words) and any
 * block that would overrun the budget.
 *
 * A block is position-independent (it takes its pc) because one page may be mapped at several
 * addresses. Blocks belong to the page's decode record, so a store into the page drops them all;
 * a block whose own store hits a decoded page stops right after that store.
 */

export const MAX_BLOCK = 64;

/** `SoftTlb.exitKind` after a block stopped early. */
export const EXIT_EARLY = 0;
export const EXIT_FAULT = 1;
export const EXIT_MISALIGNED = 2;

function isBranch(op: Op): boolean {
  return op === Op.Beq || op === Op.Bne || op === Op.Blt || op === Op.Bge || op === Op.Bltu || op === Op.Bgeu;
}

function endsBlock(op: Op): boolean {
  return op === Op.Jal || op === Op.Jalr || isBranch(op);
}

function translatable(op: Op): boolean {
  switch (op) {
    case Op.Ecall:
    case Op.Ebreak:
    case Op.Wfi:
    case Op.Pause:
    case Op.FenceI:
    case Op.CsrRead:
    case Op.LrW:
    case Op.ScW:
    case Op.AmoSwap:
    case Op.AmoAdd:
    case Op.AmoXor:
    case Op.AmoAnd:
    case Op.AmoOr:
    case Op.AmoMin:
    case Op.AmoMax:
    case Op.AmoMinu:
    case Op.AmoMaxu:
    case Op.Illegal:
      return false;
    default:
      return true;
  }
}

interface EmitContext {
  /** Set once the jump or branch that ends the block is emitted. */
  ends: boolean;
  /**
   * For a block whose last instruction jumps back to its first (a tight loop), the block's
   * length: the function then loops by itself up to `iters` times (its 4th argument) and counts
   * iterations in `it`. 0 otherwise.
   */
  loopLen: number;
}

const at = (k: number): string => `(pc + ${4 * k}) | 0`;

/** Stop after `k` instructions of this iteration, for `kind`, at instruction k's pc. */
function exit(ctx: EmitContext, k: number, kind: number, extra = ""): string {
  const retired = ctx.loopLen > 0 ? `it * ${ctx.loopLen} + ${k}` : `${k}`;
  return `{ t.exitIndex = ${retired}; t.exitKind = ${kind};${extra} return ${at(k)}; }`;
}

/** The end of a loop block's iteration when it jumps back: go round again or return. */
const loopBack = "{ if (++it < iters) continue; t.iters = it; return pc; }";

function branchCond(op: Op, a: string, b: string): string {
  switch (op) {
    case Op.Beq:
      return `${a} === ${b}`;
    case Op.Bne:
      return `${a} !== ${b}`;
    case Op.Blt:
      return `${a} < ${b}`;
    case Op.Bge:
      return `${a} >= ${b}`;
    case Op.Bltu:
      return `(${a} >>> 0) < (${b} >>> 0)`;
    default:
      return `(${a} >>> 0) >= (${b} >>> 0)`;
  }
}

/** JavaScript for instruction `k` of a block; `ends` is set for a jump or branch. */
function emit(
  op: Op,
  rd: number,
  rs1: number,
  rs2: number,
  imm: number,
  k: number,
  ctx: EmitContext,
): string {
  const d = `r[${rd}]`;
  const a = `r[${rs1}]`;
  const b = `r[${rs2}]`;
  const i = `(${imm})`;
  switch (op) {
    case Op.Lui:
      return `${d} = ${imm};`;
    case Op.Auipc:
      return `${d} = pc + ${4 * k + imm};`;
    case Op.Jal:
      ctx.ends = true;
      if ((imm & 3) !== 0) return exit(ctx, k, EXIT_MISALIGNED, ` t.exitAddr = (pc + ${4 * k + imm}) >>> 0;`);
      if (ctx.loopLen > 0) return `${d} = pc + ${4 * k + 4}; ${loopBack}`;
      return `${d} = pc + ${4 * k + 4}; return (pc + ${4 * k + imm}) | 0;`;
    case Op.Jalr:
      ctx.ends = true;
      return `{ const tg = (${a} + ${i}) & ~1; if ((tg & 3) !== 0) ${exit(ctx, k, EXIT_MISALIGNED, " t.exitAddr = tg >>> 0;")} ${d} = pc + ${4 * k + 4}; return tg; }`;
    case Op.Beq:
    case Op.Bne:
    case Op.Blt:
    case Op.Bge:
    case Op.Bltu:
    case Op.Bgeu: {
      ctx.ends = true;
      const taken =
        (imm & 3) !== 0
          ? exit(ctx, k, EXIT_MISALIGNED, ` t.exitAddr = (pc + ${4 * k + imm}) >>> 0;`)
          : ctx.loopLen > 0
            ? loopBack
            : `return (pc + ${4 * k + imm}) | 0;`;
      const fallThrough = ctx.loopLen > 0 ? `t.iters = it + 1; return ${at(k + 1)};` : `return ${at(k + 1)};`;
      return `if (${branchCond(op, a, b)}) ${taken} ${fallThrough}`;
    }
    case Op.Lb:
    case Op.Lbu:
    case Op.Lh:
    case Op.Lhu:
    case Op.Lw: {
      const size = op === Op.Lw ? 4 : op === Op.Lh || op === Op.Lhu ? 2 : 1;
      const bytes = ["p[o]", "(p[o + 1] << 8)", "(p[o + 2] << 16)", "(p[o + 3] << 24)"]
        .slice(0, size)
        .join(" | ");
      const ext = op === Op.Lb ? "(v << 24) >> 24" : op === Op.Lh ? "(v << 16) >> 16" : "v";
      const aligned = size === 1 ? "" : `(a & ${size - 1}) === 0 && `;
      return `{ const a = (${a} + ${i}) | 0; const vpn = a >>> 12; const x = vpn & ${TLB_MASK}; let v;
  if (${aligned}rTag[x] === vpn) { const p = rPage[x]; const o = a & 4095; v = ${bytes}; }
  else { v = t.load(a, ${size}); if (v < 0) ${exit(ctx, k, EXIT_FAULT)} }
  ${d} = ${ext}; }`;
    }
    case Op.Sb:
    case Op.Sh:
    case Op.Sw: {
      const size = op === Op.Sw ? 4 : op === Op.Sh ? 2 : 1;
      const writes = ["p[o] = v;", "p[o + 1] = v >>> 8;", "p[o + 2] = v >>> 16;", "p[o + 3] = v >>> 24;"]
        .slice(0, size)
        .join(" ");
      const aligned = size === 1 ? "" : `(a & ${size - 1}) === 0 && `;
      return `{ const a = (${a} + ${i}) | 0; const v = ${b}; const vpn = a >>> 12; const x = vpn & ${TLB_MASK};
  if (${aligned}wTag[x] === vpn) { const p = wPage[x]; const o = a & 4095; ${writes}
    if (res.count > 0) res.breakOverlapping(a >>> 0, ${size});
    const dd = wDec[x]; if (dd !== noDecode) { dd.invalidate(o >>> 2); ${exit(ctx, k + 1, EXIT_EARLY)} } }
  else { if (!t.store(a, ${size}, v)) ${exit(ctx, k, EXIT_FAULT)} if (t.storeHitCode) ${exit(ctx, k + 1, EXIT_EARLY)} } }`;
    }
    case Op.Addi:
      return `${d} = ${a} + ${i};`;
    case Op.Slti:
      return `${d} = ${a} < ${i} ? 1 : 0;`;
    case Op.Sltiu:
      return `${d} = (${a} >>> 0) < ${imm >>> 0} ? 1 : 0;`;
    case Op.Xori:
      return `${d} = ${a} ^ ${i};`;
    case Op.Ori:
      return `${d} = ${a} | ${i};`;
    case Op.Andi:
      return `${d} = ${a} & ${i};`;
    case Op.Slli:
      return `${d} = ${a} << ${imm};`;
    case Op.Srli:
      return `${d} = ${a} >>> ${imm};`;
    case Op.Srai:
      return `${d} = ${a} >> ${imm};`;
    case Op.Add:
      return `${d} = ${a} + ${b};`;
    case Op.Sub:
      return `${d} = ${a} - ${b};`;
    case Op.Sll:
      return `${d} = ${a} << ${b};`;
    case Op.Slt:
      return `${d} = ${a} < ${b} ? 1 : 0;`;
    case Op.Sltu:
      return `${d} = (${a} >>> 0) < (${b} >>> 0) ? 1 : 0;`;
    case Op.Xor:
      return `${d} = ${a} ^ ${b};`;
    case Op.Srl:
      return `${d} = ${a} >>> ${b};`;
    case Op.Sra:
      return `${d} = ${a} >> ${b};`;
    case Op.Or:
      return `${d} = ${a} | ${b};`;
    case Op.And:
      return `${d} = ${a} & ${b};`;
    case Op.Mul:
      return `${d} = Math.imul(${a}, ${b});`;
    case Op.Mulh:
      return `${d} = mulh(${a}, ${b});`;
    case Op.Mulhsu:
      return `${d} = mulhsu(${a}, ${b});`;
    case Op.Mulhu:
      return `${d} = mulhu(${a}, ${b});`;
    case Op.Div:
      return `${d} = div(${a}, ${b});`;
    case Op.Divu:
      return `${d} = divu(${a}, ${b});`;
    case Op.Rem:
      return `${d} = rem(${a}, ${b});`;
    case Op.Remu:
      return `${d} = remu(${a}, ${b});`;
    case Op.Fence:
      return "// fence";
    default:
      throw new Error(`jit: operation ${op} is not translatable`);
  }
}

type Factory = (...helpers: unknown[]) => BlockFn;

/**
 * Translate the block starting at `slot` of `d`, store it in `d.blocks`, and say whether there
 * was anything to translate.
 */
export function compileBlock(d: DecodedPage, slot: number): boolean {
  // First pass: which instructions make up the block.
  const ops: [Op, number, number, number, number][] = [];
  for (let s = slot; s < SLOTS_PER_PAGE && ops.length < MAX_BLOCK; s++) {
    let w = d.code[s]!;
    if (w === 0) w = decodeSlot(d, s);
    const op = (w & 0xff) as Op;
    if (!translatable(op)) break;
    ops.push([op, (w >>> 8) & 63, (w >>> 16) & 31, w >>> 24, d.imm[s]!]);
    if (endsBlock(op)) break;
  }
  const len = ops.length;
  if (len === 0) return false;
  const [lastOp, , , , lastImm] = ops[len - 1]!;
  const loops = (lastOp === Op.Jal || isBranch(lastOp)) && lastImm === -4 * (len - 1);

  // Second pass: the code.
  const ctx: EmitContext = { ends: false, loopLen: loops ? len : 0 };
  const lines: string[] = [];
  for (let k = 0; k < len; k++) {
    const [op, rd, rs1, rs2, imm] = ops[k]!;
    lines.push(emit(op, rd, rs1, rs2, imm, k, ctx));
  }
  if (!ctx.ends) lines.push(`return ${at(len)};`);
  if (loops) {
    lines.unshift("let it = 0;", "for (;;) {");
    lines.push("}");
  }
  const body = lines.join("\n");
  const prelude = [
    body.includes("rTag") ? "const rTag = t.rTag; const rPage = t.rPage;" : "",
    body.includes("wTag")
      ? "const wTag = t.wTag; const wPage = t.wPage; const wDec = t.wDec; const res = t.mem.reservations;"
      : "",
  ].join("\n");
  const factory = new Function(
    "noDecode",
    "mulh",
    "mulhsu",
    "mulhu",
    "div",
    "divu",
    "rem",
    "remu",
    `"use strict";\nreturn function block(r, t, pc, iters) {\n${prelude}\n${body}\n};`,
  ) as Factory;
  d.blocks[slot] = factory(NO_DECODE, mulh, mulhsu, mulhu, div, divu, rem, remu);
  d.blockLen[slot] = len;
  d.blockCount++;
  return true;
}
