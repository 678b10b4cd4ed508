import { MAP_ENTRY_FLAGS } from "@vkc/checkpoint";
import { ENTRY_ANON, ENTRY_COW, ENTRY_SHARED, ENTRY_STACK } from "../vm/vm-types.ts";

/**
 * Map-entry flags between the kernel's ENTRY_* bits and the image's `MAP_ENTRY_FLAGS`.
 * ENTRY_ANON (an entry whose object the kernel made for it) has no image flag: it travels as
 * bit 0x100, which readers that do not know it keep as it is (FORMAT.md §4.4).
 */
export const IMAGE_ENTRY_ANON = 0x100;

export function toImageEntryFlags(flags: number): number {
  let out = (flags & ENTRY_SHARED) !== 0 ? MAP_ENTRY_FLAGS.SHARED : MAP_ENTRY_FLAGS.PRIVATE;
  if ((flags & ENTRY_COW) !== 0) out |= MAP_ENTRY_FLAGS.COW;
  if ((flags & ENTRY_STACK) !== 0) out |= MAP_ENTRY_FLAGS.STACK;
  if ((flags & ENTRY_ANON) !== 0) out |= IMAGE_ENTRY_ANON;
  return out;
}

export function fromImageEntryFlags(flags: number): number {
  let out = 0;
  if ((flags & MAP_ENTRY_FLAGS.SHARED) !== 0) out |= ENTRY_SHARED;
  if ((flags & MAP_ENTRY_FLAGS.COW) !== 0) out |= ENTRY_COW;
  if ((flags & MAP_ENTRY_FLAGS.STACK) !== 0) out |= ENTRY_STACK;
  if ((flags & IMAGE_ENTRY_ANON) !== 0) out |= ENTRY_ANON;
  return out;
}
