import { createHash } from "node:crypto";
import { parseElf } from "./exec/elf.ts";
import { buildInitialStack } from "./exec/initial-stack.ts";
import type { ProgramImage } from "./kernel.ts";
import type { Prng } from "./proc/proc-prng.ts";
import type { VmSpace } from "./vm/vm-space.ts";
import { STACK_TOP } from "./vm/vm-types.ts";

export interface LoadedElf {
  image: ProgramImage;
  /** SHA-256 hex of the ELF bytes (images reference executables by path + hash). */
  hash: string;
}

/** Static ELF32 RISC-V bytes → a ProgramImage (via the machine's `parseElf`). Throws on bad ELFs. */
export function loadElfImage(elf: Uint8Array): LoadedElf {
  const parsed = parseElf(elf);
  const image: ProgramImage = {
    entry: parsed.entry,
    segments: parsed.segments.map((s) => ({
      vaddr: s.vaddr,
      memsz: s.memsz,
      data: elf.subarray(s.offset, s.offset + s.filesz),
      prot: s.prot,
    })),
    phdr: { addr: parsed.phdrAddr, entsize: parsed.phent, count: parsed.phnum },
  };
  return { image, hash: createHash("sha256").update(elf).digest("hex") };
}

/**
 * Write the Linux-style initial stack (the machine's `buildInitialStack`) below STACK_TOP and
 * return sp. AT_RANDOM's 16 bytes come from the kernel PRNG, so runs stay deterministic.
 */
export function buildStack(
  vm: VmSpace,
  argv: readonly string[],
  envp: readonly string[],
  image: ProgramImage,
  prng: Prng,
): number {
  const random16 = new Uint8Array(16);
  const rv = new DataView(random16.buffer);
  for (let i = 0; i < 4; i++) rv.setUint32(4 * i, prng.next(), true);
  const auxv = {
    phdr: image.phdr?.addr ?? 0,
    phent: image.phdr?.entsize ?? 32,
    phnum: image.phdr?.count ?? 0,
    entry: image.entry,
  };
  const stack = buildInitialStack({ argv, envp, auxv, stackTop: STACK_TOP, random16 });
  vm.poke(stack.sp, stack.bytes);
  return stack.sp;
}
