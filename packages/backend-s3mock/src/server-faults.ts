/**
 * Fault injection for the S3 server: each request draws from a seeded PRNG, so a test that
 * sends the same requests in the same order sees the same faults.
 */

export interface S3Faults {
  /** Seed of the fault PRNG (default 1). Setting faults with a seed restarts the sequence. */
  seed?: number;
  /** Fraction (0..1) of requests answered 500 InternalError without doing the operation. */
  errorRate?: number;
  /** Fraction (0..1) of requests answered 503 SlowDown without doing the operation. */
  slowDownRate?: number;
  /** Milliseconds added before each request is handled. */
  latencyMs?: number;
  /** Fraction (0..1) of requests whose operation runs but whose connection is destroyed mid-response. */
  dropRate?: number;
  /** Fraction (0..1) of responses with a body that send fewer bytes than their Content-Length. */
  truncateRate?: number;
  /** Only requests whose S3 operation name is listed (e.g. `["GetObject"]`) get faults; default all. */
  operations?: string[];
  /** Stop injecting after this many faults (counted from the last `setFaults`); default no limit. */
  maxFaults?: number;
}

export type FaultDecision = "none" | "error" | "slowDown" | "drop" | "truncate";

/** splitmix32: small, fast, good enough to spread faults evenly. */
function nextRandom(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return (z >>> 0) / 0x1_0000_0000;
}

export class FaultInjector {
  private faults: S3Faults = {};
  private readonly state = { s: 1 };
  private injected = 0;

  constructor(faults: S3Faults | undefined) {
    if (faults) this.set(faults);
  }

  /** Replace the fault settings. A `seed` restarts the PRNG sequence. */
  set(faults: S3Faults): void {
    for (const name of ["errorRate", "slowDownRate", "dropRate", "truncateRate"] as const) {
      const rate = faults[name];
      if (rate !== undefined && !(rate >= 0 && rate <= 1))
        throw new RangeError(`faults.${name} must be in 0..1`);
    }
    if (faults.latencyMs !== undefined && !(faults.latencyMs >= 0)) {
      throw new RangeError("faults.latencyMs must be >= 0");
    }
    this.faults = { ...faults };
    this.injected = 0;
    if (faults.seed !== undefined) this.state.s = faults.seed | 0;
  }

  get settings(): Readonly<S3Faults> {
    return this.faults;
  }

  latencyFor(operation: string): number {
    return this.applies(operation) ? (this.faults.latencyMs ?? 0) : 0;
  }

  /** One draw per request decides its fault. */
  decide(operation: string): FaultDecision {
    if (!this.applies(operation)) return "none";
    const f = this.faults;
    if (f.maxFaults !== undefined && this.injected >= f.maxFaults) return "none";
    const total = (f.errorRate ?? 0) + (f.slowDownRate ?? 0) + (f.dropRate ?? 0) + (f.truncateRate ?? 0);
    if (total === 0) return "none";
    let r = nextRandom(this.state);
    for (const [rate, kind] of [
      [f.errorRate, "error"],
      [f.slowDownRate, "slowDown"],
      [f.dropRate, "drop"],
      [f.truncateRate, "truncate"],
    ] as const) {
      const p = rate ?? 0;
      if (r < p) {
        this.injected++;
        return kind;
      }
      r -= p;
    }
    return "none";
  }

  private applies(operation: string): boolean {
    const ops = this.faults.operations;
    return ops === undefined || ops.includes(operation);
  }
}
