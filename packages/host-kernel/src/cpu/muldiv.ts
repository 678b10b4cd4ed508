/**
 * The M extension's arithmetic on 32-bit integers, exact without BigInt. Operands are int32 or
 * uint32 values as the interpreter holds them; results are int32 (what a register holds).
 */

/** High 32 bits of the unsigned 64-bit product of `a` and `b` (16-bit limbs, all exact). */
export function mulhu(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = (a >>> 16) & 0xffff;
  const b0 = b & 0xffff;
  const b1 = (b >>> 16) & 0xffff;
  const lo = a0 * b0;
  const m1 = a1 * b0;
  const m2 = a0 * b1;
  const mid = (lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16)) | 0;
}

/** High 32 bits of the signed × signed product. */
export function mulh(a: number, b: number): number {
  let hi = mulhu(a, b);
  if ((a | 0) < 0) hi = (hi - b) | 0;
  if ((b | 0) < 0) hi = (hi - a) | 0;
  return hi;
}

/** High 32 bits of the signed `a` × unsigned `b` product. */
export function mulhsu(a: number, b: number): number {
  const hi = mulhu(a, b);
  return (a | 0) < 0 ? (hi - b) | 0 : hi;
}

/** Signed division rounding toward zero; x/0 = -1, -2^31/-1 = -2^31 (no trap in RISC-V). */
export function div(a: number, b: number): number {
  if ((b | 0) === 0) return -1;
  return ((a | 0) / (b | 0)) | 0;
}

export function divu(a: number, b: number): number {
  if ((b | 0) === 0) return -1;
  return ((a >>> 0) / (b >>> 0)) | 0;
}

/** Signed remainder with the sign of the dividend; x%0 = x, -2^31%-1 = 0. */
export function rem(a: number, b: number): number {
  if ((b | 0) === 0) return a | 0;
  return ((a | 0) % (b | 0)) | 0;
}

export function remu(a: number, b: number): number {
  if ((b | 0) === 0) return a | 0;
  return ((a >>> 0) % (b >>> 0)) | 0;
}
