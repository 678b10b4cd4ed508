import { buildInitialStack, PROT_READ, PROT_WRITE, parseElf } from "@vkc/host-kernel";
import { GuestLoadError } from "./errors.ts";
import { GUEST_STACK_PAGES, GUEST_STACK_TOP, PAGE_BYTES } from "./memimage-layout.ts";
import type { PhysAllocator, PhysMemory } from "./phys-memory.ts";
import { copyoutGuestKernel, pteFlags, Sv32Pmap } from "./pmap-sv32.ts";

/** What a loaded guest starts with. */
export interface LoadedGuest {
  /** The root of its Sv32 tables (physical) and the master PDE for MADV_SETMAP. */
  root: number;
  masterPde: number;
  entry: number;
  sp: number;
}

export interface GuestLoadRequest {
  elf: Uint8Array;
  argv: readonly string[];
  envp?: readonly string[];
  /** The 16 AT_RANDOM bytes (default zeros). */
  random16?: Uint8Array;
}

/**
 * Load a static ELF into memimage pages and map them with new Sv32 tables: every PT_LOAD
 * segment (pages shared by two segments get the union of their permissions), and
 * GUEST_STACK_PAGES of stack below GUEST_STACK_TOP holding the Linux initial stack.
 */
export function loadGuest(mem: PhysMemory, alloc: PhysAllocator, req: GuestLoadRequest): LoadedGuest {
  let elf: ReturnType<typeof parseElf>;
  try {
    elf = parseElf(req.elf);
  } catch (e) {
    throw new GuestLoadError("ELF", e instanceof Error ? e.message : String(e), { cause: e });
  }
  const pmap = new Sv32Pmap(mem, alloc);
  const pages = new Map<number, { phys: number; prot: number }>();
  const page = (va: number, prot: number): void => {
    const have = pages.get(va);
    if (have === undefined) pages.set(va, { phys: alloc.alloc(), prot });
    else have.prot |= prot;
  };
  for (const s of elf.segments) {
    for (let va = s.vaddr & ~(PAGE_BYTES - 1); va < s.vaddr + s.memsz; va += PAGE_BYTES) page(va, s.prot);
  }
  for (let i = 1; i <= GUEST_STACK_PAGES; i++) page(GUEST_STACK_TOP - i * PAGE_BYTES, PROT_READ | PROT_WRITE);
  for (const [va, p] of pages) pmap.enter(va, p.phys, pteFlags(p.prot));

  for (const s of elf.segments) {
    const data = req.elf.subarray(s.offset, s.offset + s.filesz);
    if (!copyoutGuestKernel(pmap, mem, s.vaddr, data)) throw new GuestLoadError("segment", "not mapped");
  }
  const stack = buildInitialStack({
    argv: req.argv,
    envp: req.envp ?? [],
    auxv: { phdr: elf.phdrAddr, phent: elf.phent, phnum: elf.phnum, entry: elf.entry },
    stackTop: GUEST_STACK_TOP,
    random16: req.random16 ?? new Uint8Array(16),
    maxBytes: GUEST_STACK_PAGES * PAGE_BYTES - 256,
  });
  if (!copyoutGuestKernel(pmap, mem, stack.sp, stack.bytes))
    throw new GuestLoadError("stack", "arguments do not fit in the initial stack pages");
  return { root: pmap.root, masterPde: pmap.masterPde(), entry: elf.entry, sp: stack.sp };
}
