import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { progressEnabled, progressLine, withProgress } from "./images-progress.ts";

const stats = (requests: number, bytesGot: number, bytesPut = 0) => ({
  requests,
  puts: 0,
  gets: 0,
  rangedGets: 0,
  lists: 0,
  deletes: 0,
  heads: 0,
  bytesPut,
  bytesGot,
});

describe("progress", () => {
  test("only on a terminal, and never under CI", () => {
    expect(progressEnabled({ isTTY: true }, {})).toBe(true);
    expect(progressEnabled({ isTTY: true }, { CI: "false" })).toBe(true);
    expect(progressEnabled({ isTTY: true }, { CI: "1" })).toBe(false);
    expect(progressEnabled({ isTTY: false }, {})).toBe(false);
    expect(progressEnabled({}, {})).toBe(false);
  });

  test("the line sums requests and bytes over the stores", () => {
    expect(progressLine("verify", [stats(3, 2048)])).toBe("verify: 3 requests, 2.0 KiB read");
    expect(progressLine("copy", [stats(1, 0), stats(2, 100, 4096)])).toBe(
      "copy: 3 requests, 100 B read, 4.0 KiB written",
    );
  });

  test("withProgress draws on stderr and erases the line; off, it writes nothing", async () => {
    const io = captureIO();
    const s = stats(0, 0);
    const result = await withProgress(
      io,
      "gc",
      [s],
      async () => {
        s.requests = 5;
        return 42;
      },
      { stderr: { isTTY: true }, env: {} },
    );
    expect(result).toBe(42);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe("\r\x1b[Kgc: 0 requests, 0 B read\r\x1b[K");

    const quiet = captureIO();
    expect(await withProgress(quiet, "gc", [s], async () => 1, { stderr: { isTTY: false }, env: {} })).toBe(
      1,
    );
    expect(quiet.stderr()).toBe("");
  });
});
