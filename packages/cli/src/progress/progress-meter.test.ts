import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { formatSeconds, progressEnabled, progressText, withMeter } from "./progress-meter.ts";

describe("progress meter", () => {
  test("bars only on a terminal, and never under CI", () => {
    expect(progressEnabled({ isTTY: true }, {})).toBe(true);
    expect(progressEnabled({ isTTY: true }, { CI: "true" })).toBe(false);
    expect(progressEnabled({ isTTY: false }, {})).toBe(false);
  });

  test("with a total: bar, bytes, percentage, rate and time left", () => {
    const text = progressText("restore", { bytes: 4 * 1048576, total: 16 * 1048576 }, 2000);
    expect(text).toBe("restore: [#####...............] 4.0 MiB of 16 MiB (25%), 2.0 MiB/s, ETA 6s");
    expect(progressText("restore", { bytes: 4 * 1048576, total: 16 * 1048576 }, 2000, false)).toBe(
      "restore: 4.0 MiB of 16 MiB (25%), 2.0 MiB/s, ETA 6s",
    );
  });

  test("without a total or before anything moved: no rate, no ETA", () => {
    expect(progressText("copy", { bytes: 0 }, 5000)).toBe("copy: 0 B");
    expect(progressText("copy", { bytes: 3000 }, 100)).toBe("copy: 2.9 KiB");
    expect(progressText("gc", { bytes: 2048, detail: "3 requests" }, 1000)).toBe("gc: 3 requests, 2.0 KiB/s");
    expect(formatSeconds(75)).toBe("1m15s");
    expect(formatSeconds(7300)).toBe("2h01m");
  });

  test("on a terminal it draws and erases on stderr; off a terminal quick work prints nothing", async () => {
    const io = captureIO();
    let t = 0;
    const result = await withMeter(
      io,
      "restore",
      () => ({ bytes: 0, total: 8192 }),
      async () => 7,
      {
        stderr: { isTTY: true },
        env: {},
        now: () => t++,
      },
    );
    expect(result).toBe(7);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe("\r\x1b[Krestore: [....................] 0 B of 8.0 KiB (0%)\r\x1b[K");

    const quiet = captureIO();
    await withMeter(
      quiet,
      "restore",
      () => ({ bytes: 1 }),
      async () => 0,
      { stderr: { isTTY: false }, env: {} },
    );
    expect(quiet.stderr()).toBe("");
  });

  test("off a terminal, long work prints plain lines now and then", async () => {
    const io = captureIO();
    let bytes = 0;
    await withMeter(
      io,
      "verify",
      () => ({ bytes }),
      async () => {
        for (let i = 0; i < 3; i++) {
          bytes += 1024;
          await new Promise((r) => setTimeout(r, 30));
        }
      },
      { stderr: { isTTY: false }, env: {}, plainIntervalMs: 20 },
    );
    const lines = io
      .stderr()
      .split("\n")
      .filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^vkc: verify: \d/);
    expect(io.stdout()).toBe("");
  });
});
