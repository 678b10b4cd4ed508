import { describe, expect, it } from "vitest";
import { HostKernelError } from "../errors.ts";
import { parseInputScript } from "./input-script.ts";

describe("parseInputScript", () => {
  it("reads absolute and relative times, JSON strings and winsize events", () => {
    const events = parseInputScript('# demo\n\n1_000 "ls\\n"\n+500 "\\u0003"\n2000 winsize 40 132\n');
    expect(events).toEqual([
      { at: 1000, bytes: new TextEncoder().encode("ls\n") },
      { at: 1500, bytes: new Uint8Array([3]) },
      { at: 2000, winsize: { rows: 40, cols: 132 } },
    ]);
  });

  it("names the line of a mistake", () => {
    expect(() => parseInputScript('10 "a"\nfoo')).toThrow(/line 2/);
    expect(() => parseInputScript("10 notjson")).toThrow(/JSON string/);
    expect(() => parseInputScript("10 42")).toThrow(/JSON string/);
    expect(() => parseInputScript('10 "a"\n5 "b"')).toThrow(/before the previous/);
    try {
      parseInputScript("x");
    } catch (e) {
      expect(HostKernelError.isInstance(e)).toBe(true);
      expect((e as HostKernelError).code).toBe("INPUT_SCRIPT");
    }
  });
});
