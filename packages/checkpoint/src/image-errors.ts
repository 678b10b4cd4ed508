import { CheckpointError } from "./errors.ts";

/**
 * Errors of the image format and the image store protocol. All extend `CheckpointError`, so
 * `CheckpointError.isInstance(e)` and `e.code` work for every one of them.
 */

/** The bytes are not CBOR, or use CBOR this format forbids (tags, floats, indefinite lengths…). */
export class MalformedCborError extends CheckpointError {
  constructor(
    readonly what: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("MALFORMED_CBOR", `${what}: ${problem}`, options);
  }
}

/** A size, count or depth is past a reader limit; refused before anything was allocated for it. */
export class LimitExceededError extends CheckpointError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super("LIMIT_EXCEEDED", `${path}: ${problem}`);
  }
}

/** A decoded field has the wrong type, range or relation to other fields. */
export class InvalidImageError extends CheckpointError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super("INVALID_IMAGE", `${path}: ${problem}`);
  }
}

/** The `format` name is not the one this reader reads. */
export class UnsupportedFormatError extends CheckpointError {
  constructor(
    readonly what: string,
    readonly format: string,
    readonly expected: string,
  ) {
    super(
      "UNSUPPORTED_FORMAT",
      `${what}: format ${JSON.stringify(format)} is not ${JSON.stringify(expected)}`,
    );
  }
}

/** The format's major version is not the one this reader reads. */
export class UnsupportedVersionError extends CheckpointError {
  constructor(
    readonly what: string,
    readonly major: number,
    readonly minor: number,
    readonly supportedMajor: number,
  ) {
    const relation = major > supportedMajor ? "newer than" : "older than";
    super(
      "UNSUPPORTED_VERSION",
      `${what}: image format ${major}.${minor} is ${relation} this vkc reads (${supportedMajor}.x)`,
    );
  }
}

/** A blob's bytes do not hash to the name it is stored or referenced under. */
export class IntegrityError extends CheckpointError {
  constructor(
    readonly object: string,
    problem: string,
  ) {
    super("INTEGRITY", `${object}: ${problem}`);
  }
}

/** A manifest is unsigned, or its HMAC-SHA256 signature does not match the reader's key. */
export class SignatureError extends CheckpointError {
  constructor(
    readonly object: string,
    problem: string,
  ) {
    super("SIGNATURE", `${object}: ${problem}`);
  }
}

/** An image, ref or blob that should exist does not. */
export class NotFoundError extends CheckpointError {
  constructor(
    readonly what: string,
    problem = "not found",
  ) {
    super("NOT_FOUND", `${what}: ${problem}`);
  }
}

/** An image id prefix matches more than one image. */
export class AmbiguousRefError extends CheckpointError {
  constructor(
    readonly ref: string,
    readonly matches: readonly string[],
  ) {
    super(
      "AMBIGUOUS_REF",
      `image ${JSON.stringify(ref)}: prefix matches ${matches.length} images (${matches
        .slice(0, 3)
        .map((m) => m.slice(0, 12))
        .join(", ")}${matches.length > 3 ? ", …" : ""})`,
    );
  }
}

/** A parent chain loops back on itself or is deeper than the reader allows. */
export class ParentChainError extends CheckpointError {
  constructor(
    readonly image: string,
    problem: string,
  ) {
    super("PARENT_CHAIN", `image ${image}: ${problem}`);
  }
}

/** An argument given to the API is unusable (bad ref name, bad page size, a page for an unknown object). */
export class InvalidArgumentError extends CheckpointError {
  constructor(
    readonly what: string,
    problem: string,
  ) {
    super("INVALID_ARGUMENT", `${what}: ${problem}`);
  }
}

/** The store lacks a capability the operation needs (e.g. synchronous reads, for a lazy restore). */
export class UnsupportedStoreError extends CheckpointError {
  constructor(
    readonly store: string,
    problem: string,
  ) {
    super("UNSUPPORTED_STORE", `${store}: ${problem}`);
  }
}
