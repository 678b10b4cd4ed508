import { Stop } from "./cpu-types.ts";
import type { Hart } from "./hart.ts";

export interface IpsMeasurement {
  /** Instructions retired during the measurement. */
  retired: number;
  /** Wall-clock seconds spent in `Hart.run`. */
  seconds: number;
  /** retired / seconds. */
  ips: number;
  /** Why the last run returned (Budget if the whole budget was used). */
  stop: Stop;
}

/**
 * Run `hart` for up to `budget` instructions in slices of `slice` (as a kernel would) and
 * measure the interpreter's speed. Stops early if the hart stops for any reason but its budget.
 * Wall-clock time is used here only to report speed; it never affects execution.
 */
export function measureIps(hart: Hart, budget: number, slice = 1_000_000): IpsMeasurement {
  let retired = 0;
  let stop: Stop = Stop.Budget;
  const start = performance.now();
  while (retired < budget) {
    stop = hart.run(Math.min(slice, budget - retired));
    retired += hart.retired;
    if (stop !== Stop.Budget) break;
  }
  const seconds = (performance.now() - start) / 1000;
  return { retired, seconds, ips: seconds > 0 ? retired / seconds : 0, stop };
}
