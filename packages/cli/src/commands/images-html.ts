import { type ImageSummary, type Manifest, PAGE_SIZE, type ProcessSummary, REG_NAMES } from "@vkc/checkpoint";
import {
  dataAttrs,
  escapeHtml,
  hex,
  htmlPage,
  legendHtml,
  PAGE_STATES,
  type PageStateLetter,
} from "./images-html-page.ts";
import { renderVkernelHtml, type VkernelSection } from "./images-vkernel.ts";

/**
 * `vkc images show IMAGE --html FILE`: the image as a page — header numbers, the process tree,
 * threads with registers, each vmspace entry as a map of its pages coloured by state, descriptors
 * and devices. Numbers come from the same `summarizeImage` data as `--json`; the page maps are
 * computed from the manifest's page maps by the same rules, and each entry carries its counts as
 * data attributes.
 */
export function renderImageHtml(
  manifest: Manifest,
  summary: ImageSummary,
  parent?: Manifest,
  vkernel: VkernelSection | null = null,
): string {
  const parentHashes = parent === undefined ? null : pageHashes(parent);
  const id = summary.id ?? "(unsigned draft)";
  const t = summary.totals;
  const rootData = dataAttrs({
    image: id,
    instructions: summary.instructions,
    ns: summary.ns,
    "total-pages": t.total,
    "total-resident": t.resident,
    "total-zero": t.zero,
    "total-shared": t.shared,
    "total-new": t.new,
    "total-bytes": t.bytes,
    processes: summary.processes.length,
  });
  const stats = [
    ["instructions", summary.instructions],
    ["virtual ns", summary.ns],
    ["processes", summary.processes.length],
    ["threads", summary.processes.reduce((n, p) => n + p.threads.length, 0)],
    ["pages", t.total],
    ["resident", t.resident],
    ["new", t.new],
    ["shared with parent", t.shared],
    ["bytes stored", t.bytes],
  ] as const;
  const body = [
    `<section><h2>Image</h2><div class="stats">${stats
      .map(([label, n]) => `<div class="stat"><b>${n.toLocaleString("en-US")}</b><span>${label}</span></div>`)
      .join("")}</div>
<table style="margin-top:12px"><tr><th>id</th><td class="mono">${escapeHtml(id)}</td></tr>
<tr><th>parent</th><td class="mono">${escapeHtml(summary.parent ?? "none (full image)")}${
      summary.parent !== undefined && parent === undefined
        ? " (not in the store: shared pages not counted)"
        : ""
    }</td></tr>
<tr><th>kind</th><td>${escapeHtml(summary.kind)}, format ${escapeHtml(summary.version)}</td></tr>
<tr><th>created</th><td>${escapeHtml(summary.created)} by ${escapeHtml(summary.tool)}</td></tr>
<tr><th>executables</th><td>${
      summary.executables
        .map(
          (x) =>
            `<code>${escapeHtml(x.path)}</code> ${x.size} bytes${x.embedded ? " (embedded)" : ""} <span class="mono">${escapeHtml(x.sha256.slice(0, 16))}</span>`,
        )
        .join("<br>") || '<span class="empty">none</span>'
    }</td></tr></table></section>`,
    `<section><h2>Process tree</h2>${processTree(summary.processes)}</section>`,
    // A vkernel's own view first: its virtual processes are what a reader of its image wants.
    ...(vkernel === null ? [] : [renderVkernelHtml(vkernel)]),
    ...summary.processes.map((p) => processSection(p, manifest, parentHashes)),
    devicesSection(manifest),
  ].join("\n");
  return htmlPage(`vkc image ${id.slice(0, 12)}`, id, body, rootData);
}

function processTree(processes: readonly ProcessSummary[]): string {
  const pids = new Set(processes.map((p) => p.pid));
  const children = (ppid: number) => processes.filter((p) => p.ppid === ppid && p.pid !== ppid);
  const node = (p: ProcessSummary): string => {
    const kids = children(p.pid);
    return `<li><a class="proc-ref" href="#proc-${p.pid}">${p.pid} ${escapeHtml(p.comm)}</a> <code>${escapeHtml(
      p.argv.join(" "),
    )}</code> — ${p.threads.length} thread(s)${kids.length > 0 ? `<ul>${kids.map(node).join("")}</ul>` : ""}</li>`;
  };
  const roots = processes.filter((p) => !pids.has(p.ppid) || p.ppid === p.pid);
  return `<ul class="tree">${roots.map(node).join("")}</ul>`;
}

function processSection(p: ProcessSummary, manifest: Manifest, parentHashes: Set<string> | null): string {
  const image = manifest.processes.find((q) => q.pid === p.pid);
  const threads = p.threads
    .map((th) => {
      const regs = image?.lwps.find((l) => l.tid === th.tid)?.regs ?? [];
      const grid = REG_NAMES.map(
        (name, r) => `<div${dataAttrs({ reg: name })}><span>${name}</span>${hex(regs[r] ?? 0)}</div>`,
      ).join("");
      return `<tr${dataAttrs({ tid: th.tid, pc: th.pc })}><td>${th.tid}</td><td>${escapeHtml(th.state)}${
        th.native ? " (native)" : ""
      }</td><td class="num">${hex(th.pc)}</td><td class="num">${hex(th.sp)}</td><td class="num">${hex(
        th.tp,
      )}</td><td class="num">${hex(th.sigmask[0])} ${hex(th.sigmask[1])}</td><td class="num">${hex(
        th.pending[0],
      )} ${hex(th.pending[1])}</td></tr><tr><td></td><td colspan="6"><details><summary>registers</summary><div class="regs">${grid}</div></details></td></tr>`;
    })
    .join("");
  const entries = p.vmspace
    .map((e, k) => {
      const states = entryPages(manifest, image?.vmspace.entries[k], parentHashes);
      const counts = countStates(states);
      return `<div class="entry"${dataAttrs({
        start: e.start,
        end: e.end,
        total: states.length,
        resident: counts.r + counts.n + counts.s,
        zero: counts.z,
        shared: counts.s,
        new: counts.n + counts.r,
      })}><div class="head"><code>${hex(e.start)}–${hex(e.end)}</code><b>${escapeHtml(e.prot)}</b><span>${escapeHtml(
        [e.type, ...e.flags].join(" "),
      )}</span><span>${e.objectId === undefined ? "no object" : `object ${e.objectId} @ page ${e.offset}`}</span>
<span class="counts">${states.length} pages: ${counts.z} zero, ${counts.r + counts.n} new, ${counts.s} shared</span></div>
<canvas class="pagemap"${dataAttrs({ start: e.start, pages: states })} width="1" height="1"></canvas></div>`;
    })
    .join("");
  const fds =
    p.descriptors.length === 0
      ? '<p class="empty">no descriptors</p>'
      : `<table><tr><th>fd</th><th>kind</th><th>detail</th></tr>${p.descriptors
          .map(
            (d) =>
              `<tr${dataAttrs({ fd: d.fd })}><td>${d.fd}</td><td>${escapeHtml(d.kind)}</td><td class="mono">${escapeHtml(
                d.detail,
              )}</td></tr>`,
          )
          .join("")}</table>`;
  return `<section class="process" id="proc-${p.pid}"${dataAttrs({ pid: p.pid, threads: p.threads.length, entries: p.vmspace.length })}>
<h2>Process ${p.pid} <code>${escapeHtml(p.comm)}</code></h2>
<h3>Threads</h3><table><tr><th>tid</th><th>state</th><th>pc</th><th>sp</th><th>tp</th><th>sigmask</th><th>pending</th></tr>${threads}</table>
<h3>vmspace</h3>${legendHtml()}${entries || '<p class="empty">no map entries</p>'}
<h3>Descriptors</h3>${fds}</section>`;
}

/** The devices this image records: the console tty (size, mode, foreground group) and the vkernel section. */
function devicesSection(manifest: Manifest): string {
  const rows: string[] = [];
  const host = manifest.extensions?.hostKernel as { tty?: Record<string, unknown> } | undefined;
  const tty = host?.tty;
  if (tty !== undefined) {
    const ws = Array.isArray(tty.winsize) ? tty.winsize : [];
    const termios = (tty.termios ?? {}) as Record<string, unknown>;
    rows.push(
      `<tr${dataAttrs({ device: "tty" })}><td>console tty</td><td>${escapeHtml(ws[0])} rows × ${escapeHtml(
        ws[1],
      )} cols, foreground group ${escapeHtml(tty.pgrp ?? 0)}, lflag ${hex(Number(termios.lflag ?? 0))}, oflag ${hex(
        Number(termios.oflag ?? 0),
      )}</td></tr>`,
    );
  }
  for (const p of manifest.processes) {
    for (const d of p.descriptors) {
      if (d.kind === "tap") {
        rows.push(
          `<tr${dataAttrs({ device: "tap" })}><td>tap ${escapeHtml(d.name)} (pid ${p.pid} fd ${d.fd})</td><td>${escapeHtml(
            [...d.address].join("."),
          )}/${d.prefixLength}, mtu ${d.mtu}, ${d.queued.length} frames queued</td></tr>`,
        );
      }
    }
  }
  if (manifest.vkernel !== undefined) {
    rows.push(
      `<tr${dataAttrs({ device: "vkernel" })}><td>vkernel</td><td>${Object.keys(manifest.vkernel).length} sections: ${escapeHtml(
        Object.keys(manifest.vkernel).join(", "),
      )}</td></tr>`,
    );
  }
  return `<section><h2>Devices</h2>${
    rows.length === 0 ? '<p class="empty">none recorded</p>' : `<table>${rows.join("")}</table>`
  }</section>`;
}

/** Every page hash of a manifest, as hex (what "shared with parent" compares). */
function pageHashes(manifest: Manifest): Set<string> {
  const out = new Set<string>();
  for (const o of manifest.objects) {
    for (let k = 0; k < o.pages.indexes.length; k++) {
      out.add(Buffer.from(o.pages.hashes.subarray(k * 32, k * 32 + 32)).toString("hex"));
    }
  }
  return out;
}

type Entry = Manifest["processes"][number]["vmspace"]["entries"][number];

/**
 * One state letter per page of a map entry: a normal entry covers its object from `offset` for
 * its length; a VPAGETABLE entry shows its whole backing object (as the summary counts it).
 */
export function entryPages(
  manifest: Manifest,
  entry: Entry | undefined,
  parentHashes: Set<string> | null,
): string {
  if (entry === undefined) return "";
  const count = (entry.end - entry.start) / PAGE_SIZE;
  const object =
    entry.objectId === undefined ? undefined : manifest.objects.find((o) => o.id === entry.objectId);
  if (object === undefined) return "z".repeat(count);
  const [first, length] = entry.type === "vpagetable" ? [0, object.size] : [entry.offset, count];
  const states = new Array<PageStateLetter>(length).fill("z");
  object.pages.indexes.forEach((index, k) => {
    if (index < first || index >= first + length) return;
    const hash = Buffer.from(object.pages.hashes.subarray(k * 32, k * 32 + 32)).toString("hex");
    states[index - first] = parentHashes === null ? "r" : parentHashes.has(hash) ? "s" : "n";
  });
  return states.join("");
}

function countStates(states: string): Record<PageStateLetter, number> {
  const counts = Object.fromEntries(Object.keys(PAGE_STATES).map((k) => [k, 0])) as Record<
    PageStateLetter,
    number
  >;
  for (const c of states) counts[c as PageStateLetter]++;
  return counts;
}
