import type { ConsoleSink, Kernel, ProgramImage } from "./kernel.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "./vm/vm-types.ts";

/** Test helpers: hand-assembled programs and a console that records output. */

export const CODE = 0x10000;
export const DATA = 0x40000;

/** Code as words, nested arrays of words, or `Emit` functions (labels need an `Asm`). */
export type Code = readonly (Emit | readonly Emit[])[];

/** Resolve `code` (placed at CODE) to instruction words. */
export function resolve(code: Code): number[] {
  return new Asm(CODE).emit(...code).words();
}

export function words(code: Code): Uint8Array {
  const flat = resolve(code);
  const b = new Uint8Array(flat.length * 4);
  const v = new DataView(b.buffer);
  flat.forEach((w, i) => {
    v.setUint32(4 * i, w >>> 0, true);
  });
  return b;
}

/** An image with `code` at CODE (r-x) and `data` at DATA (rw-, 64 KiB). */
export function image(code: Code, data: Uint8Array = new Uint8Array(0)): ProgramImage {
  const bytes = words(code);
  return {
    entry: CODE,
    segments: [
      { vaddr: CODE, memsz: Math.max(4, bytes.length), data: bytes, prot: PROT_READ | PROT_EXEC },
      { vaddr: DATA, memsz: 0x10000, data, prot: PROT_READ | PROT_WRITE },
    ],
  };
}

export class RecordingConsole implements ConsoleSink {
  readonly chunks: Uint8Array[] = [];
  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }
  text(): string {
    return new TextDecoder().decode(Buffer.concat(this.chunks));
  }
}

export function spawnCode(k: Kernel, code: Code, data?: Uint8Array, argv: string[] = ["test"]): number {
  return k.spawnImage({ path: "/test", argv }, image(code, data));
}

export type Emit = number | ((pc: number, label: (name: string) => number) => number);

/**
 * A tiny two-pass assembler for tests: `emit` words or functions of (pc, label) so branches can
 * refer to labels defined later; `label(name)` marks the current position.
 */
export class Asm {
  private readonly items: Emit[] = [];
  private readonly labels = new Map<string, number>();

  constructor(readonly base = CODE) {}

  get pc(): number {
    return this.base + this.items.length * 4;
  }

  label(name: string): this {
    this.labels.set(name, this.pc);
    return this;
  }

  emit(...items: (Emit | readonly Emit[])[]): this {
    for (const it of items) {
      if (Array.isArray(it)) this.items.push(...(it as Emit[]));
      else this.items.push(it as Emit);
    }
    return this;
  }

  /** Pad with `ebreak` up to `base + offset`. */
  org(offset: number): this {
    while (this.pc < this.base + offset) this.items.push(0x00100073);
    return this;
  }

  addr(name: string): number {
    const a = this.labels.get(name);
    if (a === undefined) throw new RangeError(`no label ${name}`);
    return a;
  }

  words(): number[] {
    return this.items.map((it, i) =>
      typeof it === "number" ? it : it(this.base + 4 * i, (n) => this.addr(n)),
    );
  }
}

/** `li rd, address-of(label)` (two words). */
export function la(rd: number, name: string): Emit[] {
  return [(_pc, L) => li2(rd, L(name))[0] as number, (_pc, L) => li2(rd, L(name))[1] as number];
}

function li2(rd: number, value: number): number[] {
  const v = value | 0;
  const lo = (v << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  return [
    ((hi << 12) | (rd << 7) | 0x37) >>> 0,
    (((lo & 0xfff) << 20) | (rd << 15) | (rd << 7) | 0x13) >>> 0,
  ];
}

/** A syscall with constant arguments: li a0..a5, li a7, ecall. Arguments may be labels. */
export function sys(nr: number, ...args: (number | string)[]): Emit[] {
  const out: Emit[] = [];
  args.forEach((arg, i) => {
    if (typeof arg === "string") out.push(...la(10 + i, arg));
    else out.push(...li2(10 + i, arg));
  });
  out.push(...li2(17, nr), 0x00000073);
  return out;
}
