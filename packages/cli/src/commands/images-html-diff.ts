import type { ImageDiff, ProcessDiff } from "@vkc/checkpoint";
import { dataAttrs, escapeHtml, hex, htmlPage } from "./images-html-page.ts";

/**
 * `vkc images diff A B --html FILE`: what changed from A to B as a page — page counts, processes
 * and threads added and removed, changed registers (old → new), map entries and descriptors, and
 * per object a bar of pages added, changed and removed. The numbers are `diffImages`' (the same
 * object `--json` prints), also as data attributes.
 */
export function renderDiffHtml(diff: ImageDiff, a: string, b: string): string {
  const from = diff.from ?? a;
  const to = diff.to ?? b;
  const rootData = dataAttrs({
    from,
    to,
    "instructions-from": diff.instructions.from,
    "instructions-to": diff.instructions.to,
    "pages-added": diff.pages.added,
    "pages-changed": diff.pages.changed,
    "pages-removed": diff.pages.removed,
    "processes-added": diff.processes.added.length,
    "processes-removed": diff.processes.removed.length,
    "processes-changed": diff.processes.changed.length,
  });
  const stats = [
    ["instructions run", diff.instructions.to - diff.instructions.from],
    ["pages added", diff.pages.added],
    ["pages changed", diff.pages.changed],
    ["pages removed", diff.pages.removed],
    ["processes added", diff.processes.added.length],
    ["processes removed", diff.processes.removed.length],
  ] as const;
  const body = [
    `<section><h2>Summary</h2><div class="stats">${stats
      .map(([label, n]) => `<div class="stat"><b>${n.toLocaleString("en-US")}</b><span>${label}</span></div>`)
      .join("")}</div>
<table style="margin-top:12px"><tr><th>from</th><td class="mono">${escapeHtml(from)}</td><td>${diff.instructions.from} instructions</td></tr>
<tr><th>to</th><td class="mono">${escapeHtml(to)}</td><td>${diff.instructions.to} instructions</td></tr></table>
${list("processes added", diff.processes.added, "added")}${list("processes removed", diff.processes.removed, "removed")}</section>`,
    ...diff.processes.changed.map(processSection),
    objectsSection(diff),
  ].join("\n");
  return htmlPage(`vkc diff ${from.slice(0, 12)} → ${to.slice(0, 12)}`, `${from} → ${to}`, body, rootData);
}

function list(label: string, items: readonly (number | string)[], cls: string): string {
  if (items.length === 0) return "";
  return `<p class="${cls}">${escapeHtml(label)}: ${items.map((i) => escapeHtml(i)).join(", ")}</p>`;
}

function processSection(p: ProcessDiff): string {
  const threads = p.threads.changed
    .map((t) => {
      const regs = t.registers
        .map(
          (r) =>
            `<tr${dataAttrs({ reg: r.reg, from: r.from, to: r.to })}><td>${escapeHtml(r.reg)}</td><td class="num removed">${hex(
              r.from,
            )}</td><td class="num added">${hex(r.to)}</td></tr>`,
        )
        .join("");
      return `<div class="thread"${dataAttrs({ tid: t.tid, registers: t.registers.length })}><h3>thread ${t.tid}${
        t.fields.length > 0
          ? ` <span class="changed">(${escapeHtml(t.fields.join(", "))} changed)</span>`
          : ""
      }</h3>${
        regs === ""
          ? '<p class="empty">registers unchanged</p>'
          : `<table><tr><th>register</th><th>from</th><th>to</th></tr>${regs}</table>`
      }</div>`;
    })
    .join("");
  const range = (r: { start: number; end: number }) => `${hex(r.start)}–${hex(r.end)}`;
  const entries = [
    ...p.entries.added.map((r) => `<li class="added">+ <code>${range(r)}</code></li>`),
    ...p.entries.removed.map((r) => `<li class="removed">− <code>${range(r)}</code></li>`),
    ...p.entries.changed.map(
      (r) => `<li class="changed">~ <code>${range(r)}</code> ${escapeHtml(r.fields.join(", "))}</li>`,
    ),
  ].join("");
  const d = p.descriptors;
  return `<section class="process"${dataAttrs({ pid: p.pid })}><h2>Process ${p.pid}${
    p.fields.length > 0 ? ` <span class="changed">(${escapeHtml(p.fields.join(", "))} changed)</span>` : ""
  }</h2>
${list("threads added", p.threads.added, "added")}${list("threads removed", p.threads.removed, "removed")}${threads}
<h3>Map entries</h3>${entries === "" ? '<p class="empty">unchanged</p>' : `<ul>${entries}</ul>`}
<h3>Descriptors</h3>${
    d.added.length + d.removed.length + d.changed.length === 0
      ? '<p class="empty">unchanged</p>'
      : list("added", d.added, "added") +
        list("removed", d.removed, "removed") +
        list("changed", d.changed, "changed")
  }</section>`;
}

function objectsSection(diff: ImageDiff): string {
  const max = Math.max(1, ...diff.objects.map((o) => o.added + o.changed + o.removed));
  const rows = diff.objects
    .map((o) => {
      const bar = (n: number, color: string) =>
        n === 0
          ? ""
          : `<i style="display:inline-block;height:10px;width:${(n / max) * 300}px;background:${color}"></i>`;
      return `<tr${dataAttrs({ object: o.id, added: o.added, changed: o.changed, removed: o.removed, status: o.status })}><td>${o.id}</td><td>${escapeHtml(
        o.status,
      )}</td><td class="num">${o.added}</td><td class="num">${o.changed}</td><td class="num">${o.removed}</td><td>${bar(
        o.added,
        "#3bb273",
      )}${bar(o.changed, "#f08c2e")}${bar(o.removed, "#c0392b")}</td></tr>`;
    })
    .join("");
  return `<section><h2>Pages per object</h2>${
    rows === ""
      ? '<p class="empty">no objects</p>'
      : `<table><tr><th>object</th><th>in</th><th>added</th><th>changed</th><th>removed</th><th></th></tr>${rows}</table>`
  }</section>`;
}
