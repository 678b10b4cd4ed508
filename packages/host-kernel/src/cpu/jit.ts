import { decodeSlot } from "./decode.ts";
import { type BlockFn, type DecodedPage, NO_DECODE, SLOTS_PER_PAGE } from "./decode-cache.ts";
import { Op } from "./execute.ts";
import { div, divu, mulh, mulhsu, mulhu, rem, remu } from "./muldiv.ts";
import { TLB_MASK } from "./tlb.ts";

/**
 * Region translation: when an instruction gets hot, the run of translatable instructions starting
 * there (up to the first instruction only the interpreter runs, the end of the page, an
 * unconditional jump with no pending forward target, or MAX_REGION instructions) becomes one
 * JavaScript function, built with the Function constructor, with registers as constant indexes
 * into the register array and immediates as literals.
 *
 * Inside the function the region is a `for (;;) switch (s)` over its basic blocks: a jump or
 * branch whose target lies in the region sets `s` and continues, so loops and if/else chains run
 * without going back to the interpreter; any other target returns to it. Every segment (a
 * straight run ending at a jump or branch, or where another one starts) first checks that it fits
 * in the budget it was given and adds its length to the count, so the budget stays exact: when
 * the next segment does not fit, the function returns its pc and the interpreter steps the rest.
 * The function reports what it retired in `t.retired`, and why it stopped early in `t.exitKind`.
 *
 * The interpreter stays the reference and the fallback: it runs everything a region cannot
 * (ECALL, EBREAK, WFI, PAUSE, FENCE.I, counter reads, LR/SC/AMO, illegal words).
 *
 * A region is position-independent (it takes its pc) because one page may be mapped at several
 * addresses. Regions belong to the page's decode record, so a store into the page drops them all;
 * a region whose own store hits a decoded page returns right after that store.
 */

export const MAX_REGION = 256;

/** `SoftTlb.exitKind` after a region returned: normally, or stopped by a trap. */
export const EXIT_NONE = 0;
export const EXIT_FAULT = 1;
export const EXIT_MISALIGNED = 2;

function isBranch(op: Op): boolean {
  return op === Op.Beq || op === Op.Bne || op === Op.Blt || op === Op.Bge || op === Op.Bltu || op === Op.Bgeu;
}

function isJump(op: Op): boolean {
  return op === Op.Jal || op === Op.Jalr;
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
  /** Region length in instructions. */
  len: number;
  /** Copies the register locals the region writes back into `r` (before every return). */
  wb: string;
  /** First instruction and length of the segment being emitted. */
  segStart: number;
  segLen: number;
}

const at = (k: number): string => `(pc + ${4 * k}) | 0`;

/** The local holding register `x` inside a region: x0 reads as 0, and writes to it (decoded as
 * writes to the sink register 32) go to a local that is never written back. */
const local = (x: number): string => (x === 0 ? "0" : `x${x}`);

function writesRd(op: Op): boolean {
  return !isBranch(op) && op !== Op.Sb && op !== Op.Sh && op !== Op.Sw && op !== Op.Fence;
}

/** Whether `rs2` is a source register of `op` (R-type, branches, stores), not immediate bits. */
function readsRs2(op: Op): boolean {
  if (isBranch(op) || op === Op.Sb || op === Op.Sh || op === Op.Sw) return true;
  return (op >= Op.Add && op <= Op.And) || (op >= Op.Mul && op <= Op.Remu);
}

/** Instructions retired before instruction `k` of the current segment (`n` counts the segment). */
function before(ctx: EmitContext, k: number): string {
  const rest = ctx.segLen - (k - ctx.segStart);
  return rest === 0 ? "n" : `n - ${rest}`;
}

/** Stop at instruction k (not retired) for `kind`. */
function trap(ctx: EmitContext, k: number, kind: number, extra = ""): string {
  return `{ ${ctx.wb} t.retired = ${before(ctx, k)}; t.exitKind = ${kind};${extra} return ${at(k)}; }`;
}

/** Go to relative instruction `target`: inside the region, or back to the interpreter. */
function goTo(ctx: EmitContext, target: number, pcExpr: string): string {
  if (target >= 0 && target < ctx.len) return `{ s = ${target}; continue; }`;
  return `{ ${ctx.wb} t.retired = n; return ${pcExpr}; }`;
}

/** The relative target of a jump or branch at `k` with immediate `imm`, if it is aligned. */
function targetOf(k: number, imm: number): number | null {
  return (imm & 3) === 0 ? k + (imm >> 2) : null;
}

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

/** JavaScript for instruction `k` of a region. */
function emit(
  op: Op,
  rd: number,
  rs1: number,
  rs2: number,
  imm: number,
  k: number,
  ctx: EmitContext,
): string {
  const d = rd === 0 ? "x32" : local(rd);
  const a = local(rs1);
  const b = local(rs2);
  const i = `(${imm})`;
  switch (op) {
    case Op.Lui:
      return `${d} = ${imm};`;
    case Op.Auipc:
      return `${d} = (pc + ${4 * k + imm}) | 0;`;
    case Op.Jal: {
      const target = targetOf(k, imm);
      if (target === null) return trap(ctx, k, EXIT_MISALIGNED, ` t.exitAddr = (pc + ${4 * k + imm}) >>> 0;`);
      return `${d} = (pc + ${4 * k + 4}) | 0; ${goTo(ctx, target, `(pc + ${4 * k + imm}) | 0`)}`;
    }
    case Op.Jalr:
      return `{ const tg = (${a} + ${i}) & ~1; if ((tg & 3) !== 0) ${trap(ctx, k, EXIT_MISALIGNED, " t.exitAddr = tg >>> 0;")} ${d} = (pc + ${4 * k + 4}) | 0; ${ctx.wb} t.retired = n; return tg; }`;
    case Op.Beq:
    case Op.Bne:
    case Op.Blt:
    case Op.Bge:
    case Op.Bltu:
    case Op.Bgeu: {
      const target = targetOf(k, imm);
      const taken =
        target === null
          ? trap(ctx, k, EXIT_MISALIGNED, ` t.exitAddr = (pc + ${4 * k + imm}) >>> 0;`)
          : goTo(ctx, target, `(pc + ${4 * k + imm}) | 0`);
      return `if (${branchCond(op, a, b)}) ${taken}`;
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
  else { v = t.load(a, ${size}); if (v < 0) ${trap(ctx, k, EXIT_FAULT)} }
  ${d} = (${ext}) | 0; }`;
    }
    case Op.Sb:
    case Op.Sh:
    case Op.Sw: {
      const size = op === Op.Sw ? 4 : op === Op.Sh ? 2 : 1;
      const writes = ["p[o] = v;", "p[o + 1] = v >>> 8;", "p[o + 2] = v >>> 16;", "p[o + 3] = v >>> 24;"]
        .slice(0, size)
        .join(" ");
      const aligned = size === 1 ? "" : `(a & ${size - 1}) === 0 && `;
      // A store into a decoded page (self-modifying code) returns right after itself.
      const hitCode = `{ ${ctx.wb} t.retired = ${before(ctx, k + 1)}; return ${at(k + 1)}; }`;
      return `{ const a = (${a} + ${i}) | 0; const v = ${b}; const vpn = a >>> 12; const x = vpn & ${TLB_MASK};
  if (${aligned}wTag[x] === vpn) { const p = wPage[x]; const o = a & 4095; ${writes}
    if (res.count > 0) res.breakOverlapping(a >>> 0, ${size});
    const dd = wDec[x]; if (dd !== noDecode) { dd.invalidate(o >>> 2); ${hitCode} } }
  else { if (!t.store(a, ${size}, v)) ${trap(ctx, k, EXIT_FAULT)} if (t.storeHitCode) ${hitCode} } }`;
    }
    case Op.Addi:
      return `${d} = (${a} + ${i}) | 0;`;
    case Op.Slti:
      return `${d} = (${a} < ${i} ? 1 : 0) | 0;`;
    case Op.Sltiu:
      return `${d} = ((${a} >>> 0) < ${imm >>> 0} ? 1 : 0) | 0;`;
    case Op.Xori:
      return `${d} = (${a} ^ ${i}) | 0;`;
    case Op.Ori:
      return `${d} = (${a} | ${i}) | 0;`;
    case Op.Andi:
      return `${d} = (${a} & ${i}) | 0;`;
    case Op.Slli:
      return `${d} = (${a} << ${imm}) | 0;`;
    case Op.Srli:
      return `${d} = (${a} >>> ${imm}) | 0;`;
    case Op.Srai:
      return `${d} = (${a} >> ${imm}) | 0;`;
    case Op.Add:
      return `${d} = (${a} + ${b}) | 0;`;
    case Op.Sub:
      return `${d} = (${a} - ${b}) | 0;`;
    case Op.Sll:
      return `${d} = (${a} << ${b}) | 0;`;
    case Op.Slt:
      return `${d} = (${a} < ${b} ? 1 : 0) | 0;`;
    case Op.Sltu:
      return `${d} = ((${a} >>> 0) < (${b} >>> 0) ? 1 : 0) | 0;`;
    case Op.Xor:
      return `${d} = (${a} ^ ${b}) | 0;`;
    case Op.Srl:
      return `${d} = (${a} >>> ${b}) | 0;`;
    case Op.Sra:
      return `${d} = (${a} >> ${b}) | 0;`;
    case Op.Or:
      return `${d} = (${a} | ${b}) | 0;`;
    case Op.And:
      return `${d} = (${a} & ${b}) | 0;`;
    case Op.Mul:
      return `${d} = (Math.imul(${a}, ${b})) | 0;`;
    case Op.Mulh:
      return `${d} = (mulh(${a}, ${b})) | 0;`;
    case Op.Mulhsu:
      return `${d} = (mulhsu(${a}, ${b})) | 0;`;
    case Op.Mulhu:
      return `${d} = (mulhu(${a}, ${b})) | 0;`;
    case Op.Div:
      return `${d} = (div(${a}, ${b})) | 0;`;
    case Op.Divu:
      return `${d} = (divu(${a}, ${b})) | 0;`;
    case Op.Rem:
      return `${d} = (rem(${a}, ${b})) | 0;`;
    case Op.Remu:
      return `${d} = (remu(${a}, ${b})) | 0;`;
    case Op.Fence:
      return "// fence";
    default:
      throw new Error(`jit: operation ${op} is not translatable`);
  }
}

type Op5 = [op: Op, rd: number, rs1: number, rs2: number, imm: number];

/**
 * The instructions of the region starting at `slot`: translatable ones, up to MAX_REGION or the
 * end of the page, and past an unconditional jump only while an earlier jump or branch targets
 * something further on (the code after it is reachable).
 */
function scanRegion(d: DecodedPage, slot: number): Op5[] {
  const ops: Op5[] = [];
  let furthest = -1; // the furthest forward target seen, relative to `slot`
  for (let s = slot; s < SLOTS_PER_PAGE && ops.length < MAX_REGION; s++) {
    let w = d.code[s]!;
    if (w === 0) w = decodeSlot(d, s);
    const op = (w & 0xff) as Op;
    if (!translatable(op)) break;
    const imm = d.imm[s]!;
    ops.push([op, (w >>> 8) & 63, (w >>> 16) & 31, w >>> 24, imm]);
    const k = s - slot;
    if (op === Op.Jal || isBranch(op)) {
      const target = targetOf(k, imm);
      if (target !== null && target > furthest) furthest = target;
    }
    if (isJump(op) && furthest <= k) break;
  }
  return ops;
}

/**
 * Where segments start: the region's first instruction, every in-region target of a jump or
 * branch (these are also the `case` labels), and the instruction after any jump or branch.
 */
function segmentStarts(ops: readonly Op5[]): { labels: Set<number>; starts: boolean[] } {
  const len = ops.length;
  const labels = new Set<number>([0]);
  const starts = new Array<boolean>(len + 1).fill(false);
  starts[0] = true;
  starts[len] = true;
  for (let k = 0; k < len; k++) {
    const [op, , , , imm] = ops[k]!;
    if (op === Op.Jal || isBranch(op)) {
      const target = targetOf(k, imm);
      if (target !== null && target >= 0 && target < len) {
        labels.add(target);
        starts[target] = true;
      }
    }
    if (op === Op.Jal || op === Op.Jalr || isBranch(op)) starts[k + 1] = true;
  }
  return { labels, starts };
}

/** The JavaScript body of a region function `(r, t, pc, budget)`. */
function regionSource(ops: readonly Op5[]): string {
  const len = ops.length;
  const { labels, starts } = segmentStarts(ops);
  // Registers live in locals inside the region; the ones it writes go back to `r` on return.
  const used = new Set<number>();
  const written = new Set<number>();
  for (const [op, rd, rs1, rs2] of ops) {
    if (writesRd(op) && rd !== 0 && rd !== 32) {
      used.add(rd);
      written.add(rd);
    }
    if (rs1 !== 0) used.add(rs1);
    if (rs2 !== 0 && readsRs2(op)) used.add(rs2);
  }
  const wb = [...written].map((x) => `r[${x}] = ${local(x)};`).join(" ");
  const ctx: EmitContext = { len, wb, segStart: 0, segLen: 0 };
  const lines: string[] = [];
  for (let k = 0; k < len; k++) {
    if (starts[k]) {
      let end = k + 1;
      while (!starts[end]) end++;
      ctx.segStart = k;
      ctx.segLen = end - k;
      if (labels.has(k)) lines.push(`case ${k}:`);
      lines.push(
        `if ((n += ${ctx.segLen}) > budget) { ${ctx.wb} t.retired = n - ${ctx.segLen}; return ${at(k)}; }`,
      );
    }
    const [op, rd, rs1, rs2, imm] = ops[k]!;
    lines.push(emit(op, rd, rs1, rs2, imm, k, ctx));
  }
  const [lastOp] = ops[len - 1]!;
  if (!isJump(lastOp)) lines.push(`${ctx.wb} t.retired = n; return ${at(len)};`);
  const body = lines.join("\n");
  const prelude = [
    body.includes("rTag") ? "const rTag = t.rTag; const rPage = t.rPage;" : "",
    body.includes("wTag")
      ? "const wTag = t.wTag; const wPage = t.wPage; const wDec = t.wDec; const res = t.mem.reservations;"
      : "",
    used.size > 0 ? `let ${[...used].map((x) => `${local(x)} = r[${x}]`).join(", ")};` : "",
    "let x32 = 0; let n = 0; let s = 0;",
  ].join("\n");
  return `${prelude}\nfor (;;) switch (s) {\n${body}\n}`;
}

type Factory = (...helpers: unknown[]) => BlockFn;

/**
 * Compiled regions by their source. A region depends on nothing but its source text (it is
 * position-independent and gets registers, TLB and pc as arguments), so the same code compiled
 * again (another page with the same bytes, the same program in a new process or a new kernel,
 * a page whose regions were dropped) reuses the function, and with it the work V8 already put
 * into optimizing it. Cleared when it holds MAX_CACHED_REGIONS functions or MAX_CACHED_SOURCE
 * characters of source (a guest that generates code must not grow it without bound).
 */
const regionCache = new Map<string, BlockFn>();
let cachedSource = 0;
export const MAX_CACHED_REGIONS = 4096;
export const MAX_CACHED_SOURCE = 8_000_000;

function buildRegion(source: string): BlockFn {
  let fn = regionCache.get(source);
  if (fn !== undefined) return fn;
  const factory = new Function(
    "noDecode",
    "mulh",
    "mulhsu",
    "mulhu",
    "div",
    "divu",
    "rem",
    "remu",
    `"use strict";\nreturn function region(r, t, pc, budget) {\n${source}\n};`,
  ) as Factory;
  fn = factory(NO_DECODE, mulh, mulhsu, mulhu, div, divu, rem, remu);
  if (regionCache.size >= MAX_CACHED_REGIONS || cachedSource + source.length > MAX_CACHED_SOURCE) {
    regionCache.clear();
    cachedSource = 0;
  }
  regionCache.set(source, fn);
  cachedSource += source.length;
  return fn;
}

/**
 * Translate the region starting at `slot` of `d`, store it in `d.blocks`, and say whether there
 * was anything to translate.
 */
export function compileBlock(d: DecodedPage, slot: number): boolean {
  const ops = scanRegion(d, slot);
  if (ops.length === 0) return false;
  d.blocks[slot] = buildRegion(regionSource(ops));
  d.blockCount++;
  return true;
}
