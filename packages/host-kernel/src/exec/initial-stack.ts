import { InitialStackArgumentError, InitialStackTooLargeError } from "./elf-errors.ts";

/** Auxiliary vector types (Linux values). */
export const AT_NULL = 0;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_RANDOM = 25;

export interface InitialAuxv {
  phdr: number;
  phent: number;
  phnum: number;
  entry: number;
  /** Default 4096. */
  pagesz?: number;
  /** Default 0. */
  uid?: number;
  /** Default 0. */
  gid?: number;
  /** More [type, value] pairs, placed before AT_RANDOM. */
  extra?: readonly (readonly [number, number])[];
}

export interface InitialStackRequest {
  argv: readonly string[];
  envp: readonly string[];
  auxv: InitialAuxv;
  /** The (exclusive) top of the stack; the bytes returned go to [sp, stackTop). */
  stackTop: number;
  /** The 16 bytes AT_RANDOM points at (the kernel draws them from its seeded PRNG). */
  random16: Uint8Array;
  /** Most bytes the whole layout may take (default 256 KiB, like ARG_MAX). */
  maxBytes?: number;
}

export interface InitialStack {
  /** What to copy to [sp, stackTop). */
  bytes: Uint8Array;
  /** The initial stack pointer: 16-byte aligned, pointing at argc. */
  sp: number;
  /** Where the argv[] and envp[] pointer arrays start (a1/a2 for a crt0 that wants them). */
  argvAddr: number;
  envpAddr: number;
}

export const DEFAULT_MAX_STACK_ARGS = 256 * 1024;

/**
 * Lay out a Linux-style initial process stack. From `sp` upwards (all words little-endian):
 *
 *   argc | argv[0..argc-1] | NULL | envp[0..] | NULL | auxv pairs ... AT_NULL 0 |
 *   argv strings | envp strings | 16 random bytes (AT_RANDOM) | ... stackTop
 *
 * `sp` is 16-byte aligned, as the RISC-V psABI requires at process entry.
 */
export function buildInitialStack(req: InitialStackRequest): InitialStack {
  if (req.random16.length !== 16) {
    throw new InitialStackArgumentError(`AT_RANDOM needs 16 bytes, got ${req.random16.length}`);
  }
  const limit = req.maxBytes ?? DEFAULT_MAX_STACK_ARGS;
  const enc = new TextEncoder();
  const encode = (list: readonly string[], what: string): Uint8Array[] =>
    list.map((s, i) => {
      if (s.includes("\0")) throw new InitialStackArgumentError(`${what}[${i}] contains a NUL byte`);
      return enc.encode(s);
    });
  const args = encode(req.argv, "argv");
  const envs = encode(req.envp, "envp");

  const a = req.auxv;
  const aux: [number, number][] = [
    [AT_PHDR, a.phdr],
    [AT_PHENT, a.phent],
    [AT_PHNUM, a.phnum],
    [AT_PAGESZ, a.pagesz ?? 4096],
    [AT_ENTRY, a.entry],
    [AT_UID, a.uid ?? 0],
    [AT_EUID, a.uid ?? 0],
    [AT_GID, a.gid ?? 0],
    [AT_EGID, a.gid ?? 0],
    ...(a.extra ?? []).map(([t, v]): [number, number] => [t, v]),
    [AT_RANDOM, 0], // filled in below
    [AT_NULL, 0],
  ];

  let stringBytes = 0;
  for (const s of args) stringBytes += s.length + 1;
  for (const s of envs) stringBytes += s.length + 1;
  const words = 1 + args.length + 1 + envs.length + 1 + 2 * aux.length;

  const top = req.stackTop >>> 0;
  const randomAddr = top - 16;
  const stringsAddr = randomAddr - stringBytes;
  const sp = Math.floor((stringsAddr - 4 * words) / 16) * 16;
  const size = top - sp;
  if (size > limit) throw new InitialStackTooLargeError(size, limit);
  if (sp < 0) throw new InitialStackArgumentError(`stack top ${top} is too low for the arguments`);

  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const base = sp;
  let w = 0;
  const word = (v: number): void => {
    view.setUint32(w, v >>> 0, true);
    w += 4;
  };

  let str = stringsAddr;
  const place = (s: Uint8Array): number => {
    const at = str;
    bytes.set(s, at - base);
    str += s.length + 1; // the NUL is already 0
    return at;
  };

  word(args.length);
  const argvAddr = base + w;
  for (const s of args) word(place(s));
  word(0);
  const envpAddr = base + w;
  for (const s of envs) word(place(s));
  word(0);
  for (const [type, value] of aux) {
    word(type);
    word(type === AT_RANDOM ? randomAddr : value);
  }
  bytes.set(req.random16, randomAddr - base);
  return { bytes, sp: base, argvAddr, envpAddr };
}
