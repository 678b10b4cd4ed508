import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ESCAPE_KEY, EscapeParser } from "./console-keys.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("EscapeParser", () => {
  test("^] q quits; bytes before it still reach the guest", () => {
    const p = new EscapeParser();
    const r = p.push(bytes("ab\x1dq"));
    expect(r.command).toBe("quit");
    expect([...r.forward]).toEqual([0x61, 0x62]);
  });

  test("the escape key pending state spans chunks", () => {
    const p = new EscapeParser();
    expect(p.push(bytes("x\x1d"))).toEqual({ forward: bytes("x") });
    expect(p.push(bytes("q")).command).toBe("quit");
  });

  test("^] ^] sends one ^], ^] with another key sends both, ^] ? asks for help", () => {
    const p = new EscapeParser();
    expect([...p.push(bytes("\x1d\x1d")).forward]).toEqual([ESCAPE_KEY]);
    expect([...p.push(bytes("\x1dz")).forward]).toEqual([ESCAPE_KEY, 0x7a]);
    expect(p.push(bytes("\x1d?")).command).toBe("help");
  });

  test("input without the escape key passes through unchanged", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
        const clean = input.filter((b) => b !== ESCAPE_KEY);
        const p = new EscapeParser();
        const r = p.push(clean);
        expect(r.command).toBeUndefined();
        expect([...r.forward]).toEqual([...clean]);
      }),
    );
  });
});
