/**
 * The shell of vkc's HTML pages (`vkc images show --html`, `vkc images diff --html`): one
 * self-contained file with inline CSS and script, no network. The script only draws the page
 * maps: each `<canvas class="pagemap" data-pages="…">` gets one cell per page, coloured by the
 * page's state letter; every number on the page is also in the markup (data attributes), so the
 * page reads the same without the script.
 */

/** Page states in a `data-pages` string, one letter per page. */
export const PAGE_STATES = {
  z: { label: "zero (not stored)", color: "#e6e8eb" },
  r: { label: "resident (full image)", color: "#4c8bf5" },
  n: { label: "new / dirty since parent", color: "#f08c2e" },
  s: { label: "shared with parent (clean)", color: "#3bb273" },
} as const;

export type PageStateLetter = keyof typeof PAGE_STATES;

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** `data-x="…"` attributes from a record (values escaped). */
export function dataAttrs(values: Readonly<Record<string, string | number>>): string {
  return Object.entries(values)
    .map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`)
    .join("");
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/** The legend of page colours. */
export function legendHtml(): string {
  const items = Object.entries(PAGE_STATES)
    .map(([, s]) => `<span class="key"><i style="background:${s.color}"></i>${escapeHtml(s.label)}</span>`)
    .join("");
  return `<div class="legend">${items}</div>`;
}

const CSS = `
:root { color-scheme: light; --fg:#1d232b; --muted:#5d6b7a; --line:#d9dee4; --card:#fff; --bg:#f4f6f8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { background:#18212c; color:#fff; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header .sub { color:#b7c3cf; font-family:ui-monospace, monospace; font-size:12px; word-break:break-all; }
main { padding:20px 28px 40px; max-width:1400px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px; margin:0 0 18px; }
h2 { font-size:16px; margin:0 0 10px; }
h3 { font-size:14px; margin:14px 0 6px; }
.stats { display:flex; flex-wrap:wrap; gap:10px; }
.stat { border:1px solid var(--line); border-radius:6px; padding:6px 12px; min-width:110px; }
.stat b { display:block; font-size:18px; }
.stat span { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; }
code, .mono, td.num { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
.tree, .tree ul { list-style:none; margin:0; padding-left:18px; }
.tree > li { padding-left:0; }
.tree li { margin:4px 0; }
.proc-ref { font-weight:600; }
.regs { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:2px 12px; margin:6px 0 10px; }
.regs div { font-family:ui-monospace, monospace; font-size:12px; }
.regs div span { color:var(--muted); display:inline-block; width:3.2em; }
.legend { display:flex; flex-wrap:wrap; gap:14px; margin:4px 0 10px; color:var(--muted); font-size:12px; }
.legend i { display:inline-block; width:11px; height:11px; border-radius:2px; margin-right:5px; vertical-align:-1px; }
.entry { margin:10px 0 14px; }
.entry .head { display:flex; flex-wrap:wrap; gap:12px; align-items:baseline; font-size:13px; }
.entry .counts { color:var(--muted); font-size:12px; }
canvas.pagemap { display:block; margin-top:4px; border:1px solid var(--line); border-radius:3px; max-width:100%; }
.tip { position:fixed; pointer-events:none; background:#18212c; color:#fff; font:12px ui-monospace, monospace; padding:3px 7px; border-radius:4px; display:none; }
.added { color:#1f8a4c; } .removed { color:#c0392b; } .changed { color:#b9770e; }
.empty { color:var(--muted); font-style:italic; }
details summary { cursor:pointer; color:var(--muted); font-size:12px; }
`;

/** Draws each page map canvas; a hover tip names the page's address and state. */
const SCRIPT = `
(() => {
  const colors = ${JSON.stringify(Object.fromEntries(Object.entries(PAGE_STATES).map(([k, v]) => [k, v.color])))};
  const labels = ${JSON.stringify(Object.fromEntries(Object.entries(PAGE_STATES).map(([k, v]) => [k, v.label])))};
  const tip = document.createElement("div");
  tip.className = "tip";
  document.body.appendChild(tip);
  for (const canvas of document.querySelectorAll("canvas.pagemap")) {
    const pages = canvas.dataset.pages || "";
    const start = Number(canvas.dataset.start || 0);
    const cell = pages.length > 20000 ? 2 : pages.length > 4000 ? 4 : 9;
    const perRow = Math.max(1, Math.min(pages.length, Math.floor(1100 / cell)));
    const rows = Math.max(1, Math.ceil(pages.length / perRow));
    canvas.width = perRow * cell;
    canvas.height = rows * cell;
    const ctx = canvas.getContext("2d");
    for (let i = 0; i < pages.length; i++) {
      ctx.fillStyle = colors[pages[i]] || "#000";
      ctx.fillRect((i % perRow) * cell, Math.floor(i / perRow) * cell, cell - (cell > 3 ? 1 : 0), cell - (cell > 3 ? 1 : 0));
    }
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect();
      const scale = canvas.width / r.width;
      const i = Math.floor(((ev.clientY - r.top) * scale) / cell) * perRow + Math.floor(((ev.clientX - r.left) * scale) / cell);
      if (i < 0 || i >= pages.length) { tip.style.display = "none"; return; }
      tip.textContent = "0x" + (start + i * 4096).toString(16).padStart(8, "0") + "  " + labels[pages[i]];
      tip.style.left = ev.clientX + 12 + "px";
      tip.style.top = ev.clientY + 12 + "px";
      tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  }
})();
`;

/** A whole page: `body` is trusted markup built with `escapeHtml` for every value. */
export function htmlPage(title: string, subtitle: string, body: string, rootData: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body${rootData}>
<header><h1>${escapeHtml(title)}</h1><div class="sub">${escapeHtml(subtitle)}</div></header>
<main>
${body}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
