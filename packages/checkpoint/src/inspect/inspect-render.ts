import type { ImageDiff } from "./inspect-diff.ts";
import type { ImageSummary, PageCounts } from "./inspect-summary.ts";

const hex = (n: number, width = 8): string => `0x${n.toString(16).padStart(width, "0")}`;
const short = (id: string | undefined): string => (id === undefined ? "-" : id.slice(0, 12));
const counts = (c: PageCounts): string =>
  `${c.total} pages: ${c.resident} resident, ${c.zero} zero, ${c.shared} shared, ${c.new} new`;

/** A plain-text rendering of `summarizeImage` output, one fact per line. */
export function renderSummary(s: ImageSummary): string {
  const lines = [
    `image ${short(s.id)}  ${s.kind}  format ${s.version}  parent ${short(s.parent)}`,
    `created ${s.created} by ${s.tool}; clock ${s.instructions} instructions, ${s.ns} ns`,
    `${counts(s.totals)} (${s.totals.bytes} bytes)`,
  ];
  for (const x of s.executables)
    lines.push(`exe ${x.path} ${x.size} bytes ${x.sha256.slice(0, 12)}${x.embedded ? " embedded" : ""}`);
  for (const p of s.processes) {
    lines.push(`process ${p.pid} (ppid ${p.ppid}) ${p.comm} ${p.argv.join(" ")}`);
    for (const t of p.threads) {
      lines.push(
        `  thread ${t.tid}: pc ${hex(t.pc)} sp ${hex(t.sp)} tp ${hex(t.tp)} mask ${hex(t.sigmask[1])}${hex(t.sigmask[0]).slice(2)} pending ${hex(t.pending[1])}${hex(t.pending[0]).slice(2)} ${t.state}${t.native ? " (native)" : ""}`,
      );
    }
    for (const e of p.vmspace) {
      lines.push(
        `  ${hex(e.start)}-${hex(e.end)} ${e.prot} ${e.type}${e.flags.length > 0 ? ` ${e.flags.join(",")}` : ""} obj ${e.objectId ?? "-"}+${e.offset}: ${counts(e.pages)}`,
      );
    }
    for (const d of p.descriptors) lines.push(`  fd ${d.fd} ${d.kind}: ${d.detail}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A plain-text rendering of `diffImages` output. */
export function renderDiff(d: ImageDiff): string {
  const lines = [
    `diff ${short(d.from)} -> ${short(d.to)}: ${d.instructions.to - d.instructions.from} instructions later`,
    `pages: ${d.pages.added} added, ${d.pages.changed} changed, ${d.pages.removed} removed`,
  ];
  for (const pid of d.processes.added) lines.push(`+ process ${pid}`);
  for (const pid of d.processes.removed) lines.push(`- process ${pid}`);
  for (const p of d.processes.changed) {
    lines.push(`~ process ${p.pid}${p.fields.length > 0 ? `: ${p.fields.join(", ")}` : ""}`);
    for (const t of p.threads.added) lines.push(`  + thread ${t}`);
    for (const t of p.threads.removed) lines.push(`  - thread ${t}`);
    for (const t of p.threads.changed) {
      const regs = t.registers.map((r) => `${r.reg} ${hex(r.from)}->${hex(r.to)}`);
      const fields = t.fields.map((f) =>
        f === "state" && t.state ? `state ${t.state.from}->${t.state.to}` : f,
      );
      lines.push(`  ~ thread ${t.tid}: ${[...regs, ...fields].join(", ")}`);
    }
    for (const e of p.entries.added) lines.push(`  + map ${hex(e.start)}-${hex(e.end)}`);
    for (const e of p.entries.removed) lines.push(`  - map ${hex(e.start)}-${hex(e.end)}`);
    for (const e of p.entries.changed)
      lines.push(`  ~ map ${hex(e.start)}-${hex(e.end)}: ${e.fields.join(", ")}`);
    for (const fd of p.descriptors.added) lines.push(`  + fd ${fd}`);
    for (const fd of p.descriptors.removed) lines.push(`  - fd ${fd}`);
    for (const fd of p.descriptors.changed) lines.push(`  ~ fd ${fd}`);
  }
  for (const o of d.objects) {
    lines.push(
      `${o.status === "added" ? "+" : o.status === "removed" ? "-" : "~"} object ${o.id}: ${o.added} added, ${o.changed} changed, ${o.removed} removed pages`,
    );
  }
  return `${lines.join("\n")}\n`;
}
