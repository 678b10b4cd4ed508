import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The example guest programs shipped with this package (guest/bin/*.elf). */
export const GUEST_PROGRAMS = [
  "hello",
  "threads",
  "primes",
  "sigdemo",
  "pipes",
  "ttyraw",
  "memtouch",
  "ckptself",
  "sigckpt",
  "rtcheck",
  "udpecho",
  "udpping",
  "forkdemo",
  "forkpipe",
  "spawner",
] as const;

export type GuestProgram = (typeof GUEST_PROGRAMS)[number];

/** Host path of a shipped guest program's ELF. */
export function guestProgramPath(name: GuestProgram): string {
  return fileURLToPath(new URL(`../guest/bin/${name}.elf`, import.meta.url));
}

/** The bytes of a shipped guest program's ELF. */
export function guestProgram(name: GuestProgram): Uint8Array {
  return readFileSync(guestProgramPath(name));
}
