import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { CheckpointError } from "../errors.ts";
import {
  IntegrityError,
  InvalidArgumentError,
  InvalidImageError,
  SignatureError,
  UnsupportedFormatError,
  UnsupportedVersionError,
} from "../image-errors.ts";
import { IMAGE_FORMAT, IMAGE_FORMAT_MAJOR, type Manifest } from "../model/model-manifest.ts";
import type { ImageId } from "../model/model-values.ts";
import { byteStringHead, decodeChecked, encodeCanonical, encodeCanonicalParts } from "./codec-canonical.ts";
import { asMap, bytes, bytesView, has, req, text, uint } from "./codec-fields.ts";
import { type CodecLimits, resolveLimits } from "./codec-limits.ts";
import { checkManifest } from "./codec-manifest-check.ts";
import { manifestFromTree } from "./codec-manifest-decode.ts";
import { manifestToTree } from "./codec-manifest-encode.ts";

/**
 * The stored manifest is an envelope map:
 *   { digest: bstr(32), format: "vkc-image", version: {major, minor}, manifest: bstr, signature?: bstr(32) }
 * where `manifest` holds the canonical CBOR of the manifest body, `digest` = SHA-256(manifest)
 * and `signature` = HMAC-SHA256(key, manifest). The image id is hex(digest). Everything is
 * hashed over the emitted body bytes: a reader never re-encodes anything to check them.
 */
export interface EncodedManifest {
  readonly id: ImageId;
  /** The envelope: what is stored under `manifests/<id>`. */
  readonly bytes: Uint8Array;
  /** The canonical body inside the envelope. */
  readonly body: Uint8Array;
}

export interface EncodeManifestOptions {
  /** HMAC-SHA256 key: when given, the envelope carries a signature. */
  readonly signKey?: Uint8Array | string;
  readonly limits?: Partial<CodecLimits>;
  /**
   * Where the envelope is written: `size` bytes the encoder overwrites whole (default: new
   * memory). A writer that puts many manifests can hand out reused memory: touching fresh
   * memory costs a page fault per 4 KiB, and a large image's manifest is megabytes.
   */
  readonly allocate?: (size: number) => Uint8Array;
}

export interface DecodeManifestOptions {
  /** When given, unsigned manifests and mismatching signatures are refused (`SignatureError`). */
  readonly verifyKey?: Uint8Array | string;
  /** When given, the digest must equal it (the id the manifest was looked up by). */
  readonly expectedId?: ImageId;
  readonly limits?: Partial<CodecLimits>;
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function sign(key: Uint8Array | string, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(body).digest());
}

/** Check and encode a manifest (its `integrity` field, if any, is ignored). */
export function encodeManifest(manifest: Manifest, options: EncodeManifestOptions = {}): EncodedManifest {
  const limits = resolveLimits(options.limits);
  if (manifest.format !== IMAGE_FORMAT) {
    throw new UnsupportedFormatError("manifest", manifest.format, IMAGE_FORMAT);
  }
  if (manifest.version.major !== IMAGE_FORMAT_MAJOR) {
    throw new UnsupportedVersionError(
      "manifest",
      manifest.version.major,
      manifest.version.minor,
      IMAGE_FORMAT_MAJOR,
    );
  }
  checkManifest(manifest, limits);
  const body = encodeCanonicalParts(manifestToTree(manifest), "manifest");
  const digest = createHash("sha256");
  for (const part of body) digest.update(part);
  let signature: Uint8Array | undefined;
  if (options.signKey !== undefined) {
    const hmac = createHmac("sha256", options.signKey);
    for (const part of body) hmac.update(part);
    signature = new Uint8Array(hmac.digest());
  }
  const id = digest.digest();
  const { bytes, body: bodyBytes } = encodeEnvelope(options.allocate ?? uninitialized, {
    format: IMAGE_FORMAT,
    version: { major: manifest.version.major, minor: manifest.version.minor },
    manifest: body,
    digest: new Uint8Array(id),
    signature,
  });
  return { id: id.toString("hex"), bytes, body: bodyBytes };
}

/**
 * `size` bytes of memory the caller overwrites whole, from the allocator's free memory where it
 * can (fresh pages cost a fault each: store-pipeline-buffers.ts), as a plain Uint8Array.
 */
function uninitialized(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}

/**
 * The envelope, canonical (the same bytes as `encodeCanonical` of it, which a test checks),
 * with the body (megabytes for a large image, given in parts) copied once, into the output, not
 * encoded a second time. Returns the envelope and a view of the body in it.
 */
function encodeEnvelope(
  allocate: (size: number) => Uint8Array,
  envelope: {
    format: string;
    version: { major: number; minor: number };
    manifest: readonly Uint8Array[];
    digest: Uint8Array;
    signature: Uint8Array | undefined;
  },
): { bytes: Uint8Array; body: Uint8Array } {
  const body = envelope.manifest;
  const bodyLength = body.reduce((n, part) => n + part.length, 0);
  const pairs: [key: Uint8Array, value: Uint8Array[]][] = [];
  const add = (key: string, value: Uint8Array[]) => pairs.push([encodeCanonical(key), value]);
  add("format", [encodeCanonical(envelope.format)]);
  add("version", [encodeCanonical(envelope.version)]);
  add("digest", [encodeCanonical(envelope.digest)]);
  if (envelope.signature !== undefined) add("signature", [encodeCanonical(envelope.signature)]);
  add("manifest", [byteStringHead(bodyLength), ...body]);
  pairs.sort(([a], [b]) => a.length - b.length || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts = [Uint8Array.of(0xa0 | pairs.length), ...pairs.flatMap(([key, value]) => [key, ...value])];
  const size = parts.reduce((sum, p) => sum + p.length, 0);
  const out = allocate(size);
  if (out.length !== size)
    throw new InvalidArgumentError("allocate", `gave ${out.length} bytes, not ${size}`);
  let at = 0;
  let bodyAt = 0;
  for (const part of parts) {
    if (part === body[0]) bodyAt = at;
    out.set(part, at);
    at += part.length;
  }
  return { bytes: out, body: out.subarray(bodyAt, bodyAt + bodyLength) };
}

/**
 * Decode and check an untrusted manifest envelope: size, then CBOR subset and limits, then
 * format and major version (before the body is looked at), digest, signature, body shape and
 * cross-field rules. Every failure is a typed `CheckpointError`. The page maps of the result are
 * views of `input` (megabytes for a large image are not copied): leave `input` as it is.
 */
export function decodeManifest(input: Uint8Array, options: DecodeManifestOptions = {}): Manifest {
  const limits = resolveLimits(options.limits);
  const what = options.expectedId === undefined ? "manifest" : `manifest ${options.expectedId.slice(0, 12)}`;
  if (input.length > limits.maxManifestBytes) {
    throw new InvalidImageError(what, `${input.length} bytes is over the limit ${limits.maxManifestBytes}`);
  }
  const envelope = asMap(decodeChecked(input, what, limits), "envelope");
  const format = req(envelope, "format", "envelope", text);
  if (format !== IMAGE_FORMAT) throw new UnsupportedFormatError(what, format, IMAGE_FORMAT);
  const version = req(envelope, "version", "envelope", (v, p) => {
    const m = asMap(v, p);
    return { major: req(m, "major", p, uint), minor: req(m, "minor", p, uint) };
  });
  if (version.major !== IMAGE_FORMAT_MAJOR) {
    throw new UnsupportedVersionError(what, version.major, version.minor, IMAGE_FORMAT_MAJOR);
  }
  const body = req(envelope, "manifest", "envelope", bytesView);
  const digest = req(envelope, "digest", "envelope", (v, p) => bytes(v, p, 32));
  const actual = sha256(body);
  if (!timingSafeEqual(actual, digest)) {
    throw new IntegrityError(what, "digest does not match the manifest bytes");
  }
  const id = Buffer.from(actual).toString("hex");
  if (options.expectedId !== undefined && id !== options.expectedId) {
    throw new IntegrityError(what, `content hashes to ${id.slice(0, 12)}, not to the id it is stored under`);
  }
  let signature: string | undefined;
  if (has(envelope, "signature")) {
    signature = Buffer.from(req(envelope, "signature", "envelope", (v, p) => bytes(v, p, 32))).toString(
      "hex",
    );
  }
  if (options.verifyKey !== undefined) {
    if (signature === undefined) throw new SignatureError(what, "unsigned, but a signature key was given");
    if (!timingSafeEqual(sign(options.verifyKey, body), Buffer.from(signature, "hex"))) {
      throw new SignatureError(what, "signature does not match the key");
    }
  }
  const manifest = nameImageInErrors(options.expectedId, () => {
    const m = manifestFromTree(decodeChecked(body, `${what} body`, limits), limits);
    if (m.version.major !== version.major || m.version.minor !== version.minor) {
      throw new InvalidImageError("manifest.version", "body and envelope versions differ");
    }
    checkManifest(m, limits);
    return m;
  });
  return {
    ...manifest,
    integrity: signature === undefined ? { digest: id } : { digest: id, signature },
  };
}

/**
 * Field and cross-field errors name a path inside the manifest (`manifest.processes[0]...`);
 * when the image's id is known, say which image it is too.
 */
function nameImageInErrors<T>(id: ImageId | undefined, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (
      id !== undefined &&
      CheckpointError.isInstance(error) &&
      !error.message.startsWith(`manifest ${id.slice(0, 12)}`)
    ) {
      error.message = `image ${id.slice(0, 12)}: ${error.message}`;
    }
    throw error;
  }
}
