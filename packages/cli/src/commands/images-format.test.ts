import { describe, expect, test } from "vitest";
import {
  columns,
  formatAge,
  formatBytes,
  formatDuration,
  formatTime,
  parseDuration,
  plural,
} from "./images-format.ts";

describe("images formatting", () => {
  test("bytes, times and plurals", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(48 * 1024)).toBe("48 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatTime("2026-11-28T12:00:00.000Z")).toBe("2026-11-28 12:00:00Z");
    expect(formatTime("yesterday")).toBe("yesterday");
    const noon = Date.parse("2026-11-28T12:00:00.000Z");
    const ages = [0, 42_000, 5 * 60_000 + 1, 3 * 3600_000, 2 * 86_400_000].map((ms) =>
      formatAge("2026-11-28T12:00:00.000Z", noon + ms),
    );
    expect(ages).toEqual(["just now", "42s ago", "5m ago", "3h ago", "2d ago"]);
    expect(formatAge(undefined, noon)).toBe("-");
    expect(formatAge("2026-11-28T12:00:01.000Z", noon)).toBe("in the future");
    expect(formatTime(undefined)).toBe("-");
    expect(plural(1, "image")).toBe("1 image");
    expect(plural(2, "image")).toBe("2 images");
  });

  test("durations parse and print", () => {
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("90")).toBe(90_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("-1s")).toBeUndefined();
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(0)).toBe("0ms");
  });

  test("columns pad every cell but the last, counting characters not bytes", () => {
    expect(
      columns([
        ["ID", "REFS"],
        ["└─ ab", "latest"],
        ["abcdef", ""],
      ]),
    ).toEqual(["ID      REFS", "└─ ab   latest", "abcdef"]);
  });
});
