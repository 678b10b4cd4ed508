/**
 * The kernel's deterministic PRNG: splitmix32 over one 32-bit state word (plain data, so a
 * checkpoint saves `state` and a thaw continues the same sequence).
 */
export class Prng {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next uniformly distributed u32. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A value in [0, n) for 1 <= n <= 2^32 (modulo bias is irrelevant for n this small). */
  below(n: number): number {
    return this.next() % n;
  }
}
