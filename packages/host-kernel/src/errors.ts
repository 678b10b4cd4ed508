const MARKER = Symbol.for("@vkc/host-kernel.error");

/**
 * Base class of every error `@vkc/host-kernel` throws to its host-side callers (guests see
 * `-errno` results instead). `code` is stable (safe to switch on); `message` is one line.
 * `isInstance` works across duplicate installs.
 */
export class HostKernelError extends Error {
  readonly [MARKER] = true;
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  static isInstance(value: unknown): value is HostKernelError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A kernel option or call argument from the host side was out of range. */
export class KernelOptionError extends HostKernelError {
  constructor(option: string, problem: string) {
    super("KERNEL_OPTION", `kernel option ${option}: ${problem}`);
  }
}

/** `spawn` could not start a program (bad ELF, missing native program, no memory). */
export class SpawnError extends HostKernelError {
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super("SPAWN", `cannot spawn ${path}: ${problem}`, options);
  }
}

/** An input script line could not be parsed. */
export class InputScriptError extends HostKernelError {
  constructor(line: number, problem: string) {
    super("INPUT_SCRIPT", `input script line ${line}: ${problem}`);
  }
}

/** The kernel reached a state that breaks one of its own invariants (a bug, not a guest error). */
export class KernelPanicError extends HostKernelError {
  constructor(what: string) {
    super("KERNEL_PANIC", `kernel panic: ${what}`);
  }
}
