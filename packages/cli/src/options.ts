import { InvalidArgumentError } from "commander";

/** Commander value parser for an integer in [min, max]. */
export function intOption(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value.replaceAll("_", ""));
    if (!/^[0-9_]+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** Commander value parser for a comma-separated list of instruction counts. */
export function instantsOption(value: string): number[] {
  const parse = intOption("an instruction count", 1, Number.MAX_SAFE_INTEGER);
  const list = value.split(",").map((part) => parse(part.trim()));
  return [...new Set(list)].sort((a, b) => a - b);
}
