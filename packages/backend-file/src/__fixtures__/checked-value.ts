import { createHash, randomBytes } from "node:crypto";

/**
 * Self-checking values for crash and concurrency tests: `u32 label length, label, random body,
 * SHA-256 of everything before it`. A torn, truncated or mixed value fails `readCheckedValue`.
 */
export function checkedValue(label: string, bodyBytes: number): Uint8Array {
  const labelBytes = new TextEncoder().encode(label);
  const head = new Uint8Array(4 + labelBytes.byteLength + bodyBytes);
  new DataView(head.buffer).setUint32(0, labelBytes.byteLength, true);
  head.set(labelBytes, 4);
  head.set(randomBytes(bodyBytes), 4 + labelBytes.byteLength);
  const digest = createHash("sha256").update(head).digest();
  const out = new Uint8Array(head.byteLength + 32);
  out.set(head);
  out.set(digest, head.byteLength);
  return out;
}

/** The label of a whole checked value, or `undefined` when the value is not whole. */
export function readCheckedValue(value: Uint8Array | undefined): string | undefined {
  if (value === undefined || value.byteLength < 36) return undefined;
  const head = value.subarray(0, value.byteLength - 32);
  const digest = createHash("sha256").update(head).digest();
  if (Buffer.compare(digest, value.subarray(value.byteLength - 32)) !== 0) return undefined;
  const labelLength = new DataView(value.buffer, value.byteOffset).getUint32(0, true);
  if (4 + labelLength > head.byteLength) return undefined;
  return new TextDecoder().decode(head.subarray(4, 4 + labelLength));
}
