import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decode } from "./decode.ts";
import * as A from "./test-asm.ts";

/** `execute` writes operations as literals with their name beside them; keep the two in step. */
const source = readFileSync(join(import.meta.dirname, "execute.ts"), "utf8");

function enumValues(): Map<string, number> {
  const body = source.slice(
    source.indexOf("export const enum Op {"),
    source.indexOf("}", source.indexOf("export const enum Op {")),
  );
  const values = new Map<string, number>();
  let next = 0;
  for (const m of body.matchAll(/^\s+(\w+)(?: = (\d+))?,$/gm)) {
    next = m[2] !== undefined ? Number(m[2]) : next + 1;
    values.set(m[1]!, next);
  }
  return values;
}

describe("operation literals in execute.ts", () => {
  const values = enumValues();

  it("finds the operations", () => {
    expect(values.get("Lui")).toBe(1);
    expect(values.size).toBeGreaterThan(60);
  });

  it("every literal matches the operation named beside it", () => {
    const uses = [...source.matchAll(/(\d+) \/\* Op\.(\w+) \*\//g)];
    expect(uses.length).toBeGreaterThan(60);
    for (const [, literal, name] of uses) {
      expect(values.get(name!), `Op.${name}`).toBe(Number(literal));
    }
  });

  it("the decoder produces the same numbers", () => {
    const scratch = { code: 0, imm: 0 };
    const op = (word: number): number => decode(word, scratch).code & 0xff;
    expect(op(A.add(1, 2, 3))).toBe(values.get("Add"));
    expect(op(A.lw(1, 2, 0))).toBe(values.get("Lw"));
    expect(op(A.amomaxu_w(1, 2, 3))).toBe(values.get("AmoMaxu"));
    expect(op(0)).toBe(values.get("Illegal"));
  });
});
