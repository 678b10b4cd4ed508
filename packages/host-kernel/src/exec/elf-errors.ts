import { HostKernelError } from "../errors.ts";

/**
 * An executable that `parseElf` refuses. `code` says which kind (stable); the message names the
 * problem in one line. The kernel turns these into ENOEXEC for execve.
 */
export class ElfError extends HostKernelError {}

/** Not a well-formed ELF32 file: bad magic, sizes or offsets that do not fit, overlaps. */
export class ElfFormatError extends ElfError {
  constructor(problem: string) {
    super("ELF_MALFORMED", problem);
  }
}

/** A well-formed ELF file that vkc cannot run: RV64, PIE, dynamic linking, hard float, RVE. */
export class ElfUnsupportedError extends ElfError {
  constructor(problem: string) {
    super("ELF_UNSUPPORTED", problem);
  }
}

/** An ELF file over a limit (segment or total memory size, header count). */
export class ElfLimitError extends ElfError {
  constructor(problem: string) {
    super("ELF_LIMIT", problem);
  }
}

/** The arguments and environment do not fit the initial stack (execve's E2BIG). */
export class InitialStackTooLargeError extends HostKernelError {
  constructor(bytes: number, limit: number) {
    super("E2BIG", `arguments and environment need ${bytes} bytes of stack (limit ${limit})`);
  }
}

/** An argument or environment string that cannot be passed (execve's EINVAL). */
export class InitialStackArgumentError extends HostKernelError {
  constructor(problem: string) {
    super("EINVAL", problem);
  }
}
