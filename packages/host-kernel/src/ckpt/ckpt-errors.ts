import { HostKernelError } from "../errors.ts";

/**
 * Errors of freeze and thaw. All extend the package's `HostKernelError` (stable `code`, `cause`,
 * `isInstance`); messages are one line that names the image, process or file.
 */

/** A process cannot be frozen (unknown pid, a descriptor kind images cannot hold, ...). */
export class FreezeError extends HostKernelError {
  constructor(what: string, problem: string, options?: { cause?: unknown }) {
    super("CKPT_FREEZE", `cannot freeze ${what}: ${problem}`, options);
  }
}

/** The image could not be read from its store (unknown ref, corrupt, wrong key, ...). */
export class ThawReadError extends HostKernelError {
  constructor(ref: string, problem: string, options?: { cause?: unknown }) {
    const name = /^[0-9a-f]{64}$/.test(ref) ? ref.slice(0, 12) : ref;
    super("CKPT_THAW_READ", `cannot read image ${name}: ${problem}`, options);
  }
}

/** The image was read but describes a state this kernel cannot rebuild. */
export class ThawInvalidImageError extends HostKernelError {
  constructor(id: string, problem: string) {
    super("CKPT_THAW_INVALID", `image ${id.slice(0, 12)} cannot be thawed: ${problem}`);
  }
}

/** An executable the image references is neither at its path nor embedded. */
export class ThawExecutableMissingError extends HostKernelError {
  constructor(path: string) {
    super("CKPT_THAW_EXE_MISSING", `executable ${path} is missing (not at its path and not embedded)`);
  }
}

/** The file at an executable's path is not the one the image was made from. */
export class ThawExecutableMismatchError extends HostKernelError {
  constructor(path: string, want: string, got: string) {
    super(
      "CKPT_THAW_EXE_MISMATCH",
      `executable ${path} has SHA-256 ${got.slice(0, 12)}…, the image needs ${want.slice(0, 12)}…`,
    );
  }
}

/**
 * A kernel description (`describeKernel`'s output, e.g. decoded from a vkernel's memory) cannot
 * be rebuilt: a field has the wrong type or range, or refers to something absent. The message
 * names the field's path (`processes[1].lwps[0].regs`).
 */
export class RebuildError extends HostKernelError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super("CKPT_REBUILD", `cannot rebuild the kernel: ${problem}`, options);
  }
}

/**
 * A lazy thaw could not load a page of its image (damaged, missing, or the store failed). The
 * run stops with it: a guest never sees bytes that do not match the image.
 */
export class LazyPageError extends HostKernelError {
  constructor(id: string, objectId: number, index: number, problem: string, options?: { cause?: unknown }) {
    super(
      "CKPT_LAZY_PAGE",
      `lazy restore of image ${id.slice(0, 12)}: page ${index} of object ${objectId}: ${problem}`,
      options,
    );
  }
}
