const MARKER = Symbol.for("@vkc/cli.error");

/** Base class of the CLI's own errors; `exitCode` is what the process exits with. */
export class CliError extends Error {
  readonly [MARKER] = true;
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }

  static isInstance(value: unknown): value is CliError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** The command line itself is wrong (unknown command or flag, bad value): exit status 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super("USAGE", message, { exitCode: 2 });
  }
}
