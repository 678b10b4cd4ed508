import { createHash } from "node:crypto";
import { type CborMap, DEFAULT_LIMITS, decodeChecked, encodeCanonical, toCborValue } from "@vkc/checkpoint";
import { VkernelStateError } from "../errors.ts";
import { STATE_MAX_BYTES } from "../memimage-layout.ts";

/**
 * The state region's header (DESIGN.md §5 step 5), little-endian, 64 bytes before the payload:
 * magic "VKST", version, generation (bumped at every serialization), payload length, then the
 * payload's SHA-256. The payload is canonical CBOR (@vkc/checkpoint's codec).
 */
export const STATE_MAGIC = 0x5453_4b56; // "VKST" read as a little-endian u32
export const STATE_VERSION = 1;
export const STATE_HEADER_BYTES = 64;
/** Largest payload the region holds. */
export const STATE_MAX_PAYLOAD = STATE_MAX_BYTES - STATE_HEADER_BYTES;

/** A decoded header. */
export interface StateHeader {
  version: number;
  generation: number;
  length: number;
  sha256: string;
}

/** The region's bytes (header + payload) for `state` at `generation`. */
export function encodeStateRegion(
  state: CborMap,
  generation: number,
): { header: Uint8Array; payload: Uint8Array } {
  const payload = encodeCanonical(state, "vkernel state");
  if (payload.length > STATE_MAX_PAYLOAD)
    throw new VkernelStateError(
      `the kernel state is ${payload.length} bytes, more than ${STATE_MAX_PAYLOAD}`,
    );
  const header = new Uint8Array(STATE_HEADER_BYTES);
  const v = new DataView(header.buffer);
  v.setUint32(0, STATE_MAGIC, true);
  v.setUint32(4, STATE_VERSION, true);
  v.setUint32(8, generation >>> 0, true);
  v.setUint32(12, payload.length, true);
  header.set(createHash("sha256").update(payload).digest(), 16);
  return { header, payload };
}

/** The header, or null when the region holds none (never written: a fresh vkernel). */
export function decodeStateHeader(header: Uint8Array): StateHeader | null {
  const v = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const magic = v.getUint32(0, true);
  if (magic === 0) return null;
  if (magic !== STATE_MAGIC) throw new VkernelStateError(`bad magic 0x${magic.toString(16)}`);
  const version = v.getUint32(4, true);
  if (version !== STATE_VERSION) throw new VkernelStateError(`version ${version} is not ${STATE_VERSION}`);
  const length = v.getUint32(12, true);
  if (length > STATE_MAX_PAYLOAD) throw new VkernelStateError(`length ${length} exceeds the region`);
  return {
    version,
    generation: v.getUint32(8, true),
    length,
    sha256: Buffer.from(header.subarray(16, 48)).toString("hex"),
  };
}

/** Check the payload against the header and decode it (a VkernelStateError on any mismatch). */
export function decodeStatePayload(header: StateHeader, payload: Uint8Array): CborMap {
  if (payload.length !== header.length)
    throw new VkernelStateError(`payload is ${payload.length} bytes, header says ${header.length}`);
  const sha = createHash("sha256").update(payload).digest("hex");
  if (sha !== header.sha256) throw new VkernelStateError("SHA-256 mismatch");
  let value: unknown;
  try {
    value = toCborValue(
      decodeChecked(payload, "vkernel state", { ...DEFAULT_LIMITS, maxBytesLength: STATE_MAX_PAYLOAD }),
      "vkernel state",
    );
  } catch (cause) {
    throw new VkernelStateError(`undecodable payload: ${String(cause).split("\n")[0]}`, { cause });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array)
    throw new VkernelStateError("payload is not a map");
  return value as CborMap;
}
