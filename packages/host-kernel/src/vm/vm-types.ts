/** Protection bits (Linux values, the ABI). */
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;

/** mmap flags (Linux values, the ABI). */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_STACK = 0x20000;
export const MAP_FIXED_NOREPLACE = 0x100000;

/** Map-entry flags (kernel side, DragonFly's `eflags` in spirit). */
export const ENTRY_SHARED = 0x1;
export const ENTRY_COW = 0x2;
export const ENTRY_STACK = 0x4;
export const ENTRY_ANON = 0x8;

/** How an entry translates addresses. Only "normal" is implemented; see vm-space.ts. */
export type MapEntryType = "normal" | "vpagetable";

/** The user address-space layout (see KERNEL.md). */
export const USER_MIN = 0x0001_0000;
/** One past the highest user address. */
export const USER_END = 0xc000_0000;
export const STACK_TOP = 0xc000_0000;
export const STACK_SIZE = 8 * 1024 * 1024;
/** Non-fixed mmaps are placed top-down below this (the stack plus an 8 MiB guard gap). */
export const MMAP_BASE = STACK_TOP - 2 * STACK_SIZE;
/** The signal trampoline page ("sigcode", like a vDSO): `li a7, 139; ecall`. */
export const SIGCODE_ADDR = 0xffff_e000;
