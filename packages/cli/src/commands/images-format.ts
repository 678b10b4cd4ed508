/** Small text helpers shared by the `vkc images` commands. */

/** The first 12 hex digits of an image id, as `vkc images ls` shows it. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** ISO 8601 `2026-11-28T12:00:00.000Z` → `2026-11-28 12:00:00Z`; anything else unchanged. */
export function formatTime(time: string | undefined): string {
  if (time === undefined) return "-";
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(time);
  return m ? `${m[1]} ${m[2]}Z` : time;
}

/** How long ago `time` (ISO 8601) was, from `now` (ms): `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function formatAge(time: string | undefined, now: number): string {
  const then = time === undefined ? Number.NaN : Date.parse(time);
  if (!Number.isFinite(then)) return "-";
  const s = Math.floor((now - then) / 1000);
  if (s < 0) return "in the future";
  if (s < 5) return "just now";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (s >= size) return `${Math.floor(s / size)}${unit} ago`;
  return `${s}s ago`;
}

/** `1 image`, `2 images`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - [...cell].length),
      )
      .join("  ")
      .trimEnd(),
  );
}

/** A duration flag: `0`, `90s`, `10m`, `1h`, `2d`, `500ms`; a bare number is seconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "s"] ?? 1000;
  const ms = Number(m[1]) * scale;
  return Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER ? Math.round(ms) : undefined;
}

/** `3600000` → `1h`, `90000` → `90s`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
