const MARKER = Symbol.for("@vkc/vkernel.error");

/**
 * Base class of every error this package throws. `code` is stable (safe to switch on);
 * `message` is one line that names the thing and says what was wrong.
 */
export class VkernelError extends Error {
  readonly [MARKER] = true;
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  static isInstance(value: unknown): value is VkernelError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** memimage has no free page left. */
export class PhysExhaustedError extends VkernelError {
  constructor(pages: number) {
    super("PHYS_EXHAUSTED", `memimage: all ${pages} pages are in use`);
  }
}

/** A physical address outside memimage, or memimage not reachable in vmspace0. */
export class PhysAccessError extends VkernelError {
  constructor(phys: number, len: number) {
    super("PHYS_ACCESS", `memimage: cannot access ${len} bytes at physical 0x${(phys >>> 0).toString(16)}`);
  }
}

/** A VkernelConfig field is out of range. */
export class VkernelConfigError extends VkernelError {
  constructor(field: string, problem: string) {
    super("VKERNEL_CONFIG", `vkernel config ${field}: ${problem}`);
  }
}

/** The state region does not hold a valid kernel state (bad header, checksum or payload). */
export class VkernelStateError extends VkernelError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super("VKERNEL_STATE", `vkernel state region: ${problem}`, options);
  }
}
