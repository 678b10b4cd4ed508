const MARKER = Symbol.for("@vkc/checkpoint.error");

/**
 * Base class of every error this package throws. `code` is stable (safe to switch on);
 * `message` is one line a user can act on. `isInstance` works across duplicate installs.
 */
export class CheckpointError extends Error {
  readonly [MARKER] = true;
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  static isInstance(value: unknown): value is CheckpointError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A blob key that a store must refuse (see `keyProblem`). */
export class InvalidKeyError extends CheckpointError {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super("INVALID_KEY", `invalid blob key ${JSON.stringify(key.slice(0, 80))}: ${problem}`);
  }
}

/** A backend failed (I/O error, network error, refused request) after its own retries. */
export class StoreIOError extends CheckpointError {
  constructor(store: string, operation: string, key: string, options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message.split("\n")[0]}` : "";
    super("STORE_IO", `${store}: ${operation} ${key} failed${why}`, options);
  }
}
