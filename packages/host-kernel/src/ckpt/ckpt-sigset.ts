import type { SigSet } from "@vkc/checkpoint";

/** A kernel 64-bit signal set (bit n-1 = signal n) as the image's two u32 words. */
export function toSigSet(set: bigint): SigSet {
  return [Number(set & 0xffff_ffffn), Number((set >> 32n) & 0xffff_ffffn)];
}

export function fromSigSet(set: SigSet): bigint {
  return (BigInt(set[1] >>> 0) << 32n) | BigInt(set[0] >>> 0);
}
