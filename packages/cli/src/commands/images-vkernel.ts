import { type ImageStore, type Manifest, PAGE_SIZE, REG_NAMES } from "@vkc/checkpoint";
import { type BootRecord, readBootRecord } from "./boot-record.ts";
import { readVkernelView } from "./boot-vkernel.ts";
import { formatBytes, hex32 } from "./images-format.ts";
import { dataAttrs, escapeHtml } from "./images-html-page.ts";

/** A register's name: pc, or an ABI name of x1..x31 (ra, sp, gp, tp, t0-t6, s0-s11, a0-a7, fp). */
const REG_FIELD = /^(pc|ra|sp|gp|tp|fp|t[0-6]|s[0-9]|s1[01]|a[0-7])$/;

/** memimage's address in the vkernel's own address space (vmspace0). */
const MEMIMG_BASE = 0x4000_0000;

/** A thread of a virtual process, as the vkernel's saved state has it. */
export interface VkernelThreadRow {
  readonly tid: number;
  readonly state: string;
  /** Registers by ABI name (`pc`, `sp`, `tp`, `a0`, …): those the view has. */
  readonly regs: Readonly<Record<string, number>>;
}

/** A virtual process of the vkernel. */
export interface VkernelProcessRow {
  readonly pid: number;
  readonly ppid: number | null;
  readonly comm: string;
  readonly state: string;
  readonly residentPages: number | null;
  readonly threads: readonly VkernelThreadRow[];
}

/** The "vkernel" section of `vkc images show`: the vkernel's own view of a vkernel image. */
export interface VkernelSection {
  readonly vcpus: number;
  readonly memoryBytes: number;
  /** memimage pages the image holds (touched pages; the rest are zero). */
  readonly residentPages: number;
  readonly generation: number | null;
  /** The console mode the vkernel saved (vcons: "raw" or "cooked"), when the view has it. */
  readonly consoleMode: string | null;
  readonly guests: readonly { readonly path: string; readonly argv: readonly string[] }[];
  readonly taps: readonly { readonly device: string; readonly address?: string }[];
  /** The virtual processes, from the kernel state in the image; null when it could not be read. */
  readonly processes: readonly VkernelProcessRow[] | null;
}

/**
 * The vkernel section of image `ref`, or null when it is not a vkernel image. vCPUs, memimage size
 * and guests come from the vkernel's state when it can be decoded (`readVkernelView`), else from what
 * `vkc boot` recorded; resident pages from the image's own page map of memimage.
 */
export async function vkernelSection(
  images: ImageStore,
  ref: string,
  manifest: Manifest,
): Promise<VkernelSection | null> {
  const boot = readBootRecord(manifest);
  if (boot === null) return null;
  let view: Record<string, unknown> | null = null;
  try {
    const raw = await readVkernelView(images, ref);
    view = isRecord(raw) ? raw : null;
  } catch {
    view = null; // shown as "virtual processes: not readable"
  }
  return vkernelSectionFrom(manifest, boot, view);
}

/** The section from the image, what `vkc boot` recorded, and the vkernel's view (null: not readable). */
export function vkernelSectionFrom(
  manifest: Manifest,
  boot: BootRecord,
  view: Record<string, unknown> | null,
): VkernelSection {
  const memimage = memimageObject(manifest);
  return {
    vcpus: numberField(view, ["vcpus", "vcpuCount"]) ?? boot.config.vcpus,
    memoryBytes:
      numberField(view, ["memoryBytes", "memimageBytes", "memory"]) ??
      memimage?.bytes ??
      boot.config.memoryBytes,
    residentPages: memimage?.resident ?? numberField(view, ["residentPages", "resident"]) ?? 0,
    generation: numberField(view, ["generation"]) ?? null,
    consoleMode: typeof view?.consoleMode === "string" ? view.consoleMode : null,
    guests: boot.config.guests,
    taps: boot.config.taps ?? [],
    processes: view === null ? null : processRows(view),
  };
}

/** The object mapped at memimage's address in the vkernel process: its size and resident pages. */
function memimageObject(manifest: Manifest): { bytes: number; resident: number } | null {
  const entry = manifest.processes[0]?.vmspace.entries.find((e) => e.start === MEMIMG_BASE);
  const object = manifest.objects.find((o) => o.id === entry?.objectId);
  if (entry === undefined || object === undefined) return null;
  return { bytes: entry.end - entry.start, resident: object.pages.indexes.length };
}

function processRows(view: Record<string, unknown>): VkernelProcessRow[] {
  const list = arrayField(view, ["processes", "procs"]);
  return list.filter(isRecord).map((p) => ({
    pid: numberField(p, ["pid"]) ?? 0,
    ppid: numberField(p, ["ppid"]) ?? null,
    comm: String(p.comm ?? p.name ?? "?"),
    state: String(p.state ?? "?"),
    residentPages: numberField(p, ["residentPages", "resident"]) ?? null,
    threads: arrayField(p, ["threads", "lwps"]).filter(isRecord).map(threadRow),
  }));
}

function threadRow(t: Record<string, unknown>): VkernelThreadRow {
  const regs: Record<string, number> = {};
  const raw = t.regs ?? t.registers;
  if (Array.isArray(raw)) {
    raw.forEach((v, r) => {
      if (typeof v === "number" && r > 0) regs[REG_NAMES[r] ?? `x${r}`] = v;
    });
  } else if (isRecord(raw)) {
    for (const [name, v] of Object.entries(raw)) if (typeof v === "number") regs[name] = v;
  }
  // Registers the view gives as fields of the thread (pc, sp, tp, ra, a0, ...).
  for (const [name, v] of Object.entries(t)) {
    if (typeof v === "number" && name !== "tid" && REG_FIELD.test(name)) regs[name] = v;
  }
  return { tid: numberField(t, ["tid"]) ?? 0, state: String(t.state ?? "?"), regs };
}

/** The text lines of the section (after the host's view of the image). */
export function renderVkernelText(s: VkernelSection, withRegs: boolean): string[] {
  const out = [
    `vkernel: ${s.vcpus} vCPU(s), memimage ${formatBytes(s.memoryBytes)} (${s.residentPages} pages resident, ${formatBytes(s.residentPages * PAGE_SIZE)})${s.generation === null ? "" : `, state generation ${s.generation}`}${s.consoleMode === null ? "" : `, console ${s.consoleMode}`}`,
  ];
  for (const [i, g] of s.guests.entries()) out.push(`  guest ${i}: ${guestLine(g)}`);
  for (const t of s.taps) out.push(`  vke on ${t.device}${t.address === undefined ? "" : ` ${t.address}`}`);
  if (s.processes === null) {
    out.push("  virtual processes: not readable from this image (needs the vkernel's saved kernel state)");
    return out;
  }
  out.push(`  virtual processes: ${s.processes.length}`);
  for (const p of s.processes) {
    const resident = p.residentPages === null ? "" : `, ${p.residentPages} pages resident`;
    out.push(`  vproc ${p.pid} (ppid ${p.ppid ?? "-"}) ${p.comm} ${p.state}${resident}`);
    for (const t of p.threads) {
      const main = ["pc", "sp", "tp"].map((r) => `${r} ${hex32(t.regs[r] ?? 0)}`).join(" ");
      out.push(`    thread ${t.tid}: ${main} ${t.state}`);
      if (!withRegs) continue;
      const rest = Object.entries(t.regs).filter(([name]) => !["pc", "sp", "tp"].includes(name));
      for (let i = 0; i < rest.length; i += 4) {
        out.push(
          `        ${rest
            .slice(i, i + 4)
            .map(([n, v]) => `${n.padStart(4)} ${hex32(v)}`)
            .join("  ")}`,
        );
      }
    }
  }
  return out;
}

/** The HTML section of the image page: numbers as data attributes, virtual processes as a table. */
export function renderVkernelHtml(s: VkernelSection): string {
  const attrs = dataAttrs({
    "vk-vcpus": s.vcpus,
    "vk-memory-bytes": s.memoryBytes,
    "vk-resident-pages": s.residentPages,
    "vk-processes": s.processes?.length ?? -1,
  });
  const guests = s.guests
    .map((g, i) => `<tr><th>guest ${i}</th><td><code>${escapeHtml(guestLine(g))}</code></td></tr>`)
    .join("");
  const vkes = s.taps
    .map(
      (t) =>
        `<tr><th>vke</th><td><code>${escapeHtml(t.device)}</code>${t.address === undefined ? "" : ` ${escapeHtml(t.address)}`}</td></tr>`,
    )
    .join("");
  const procs =
    s.processes === null
      ? '<p class="empty">virtual processes: not readable from this image</p>'
      : `<table><tr><th>pid</th><th>ppid</th><th>comm</th><th>state</th><th>thread</th><th>pc</th><th>sp</th><th>tp</th><th>registers</th></tr>${s.processes
          .flatMap((p) =>
            p.threads.map(
              (t) =>
                `<tr class="vk-thread"${dataAttrs({ pid: p.pid, tid: t.tid })}><td>${p.pid}</td><td>${p.ppid ?? "-"}</td><td>${escapeHtml(p.comm)}</td><td>${escapeHtml(p.state)}/${escapeHtml(t.state)}</td><td>${t.tid}</td>${[
                  "pc",
                  "sp",
                  "tp",
                ]
                  .map((r) => `<td class="mono">${hex32(t.regs[r] ?? 0)}</td>`)
                  .join("")}<td class="mono">${Object.entries(t.regs)
                  .filter(([n]) => !["pc", "sp", "tp"].includes(n))
                  .map(([n, v]) => `${escapeHtml(n)}=${hex32(v)}`)
                  .join(" ")}</td></tr>`,
            ),
          )
          .join("")}</table>`;
  return `<section id="vkernel"${attrs}><h2>vkernel</h2><table>
<tr><th>vCPUs</th><td>${s.vcpus}</td></tr>
${s.consoleMode === null ? "" : `<tr><th>console</th><td>${escapeHtml(s.consoleMode)}</td></tr>`}
<tr><th>memimage</th><td>${escapeHtml(formatBytes(s.memoryBytes))}, ${s.residentPages} pages resident</td></tr>${guests}${vkes}</table>
<h3>Virtual processes</h3>${procs}</section>`;
}

/** A guest's command line, and its VFS path when argv[0] is not that path. */
function guestLine(g: { readonly path: string; readonly argv: readonly string[] }): string {
  const line = g.argv.join(" ");
  return g.argv[0] === g.path ? line : `${line} (${g.path})`.trimStart();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function numberField(o: Record<string, unknown> | null, names: readonly string[]): number | undefined {
  for (const name of names) {
    const v = o?.[name];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
}

function arrayField(o: Record<string, unknown>, names: readonly string[]): unknown[] {
  for (const name of names) {
    const v = o[name];
    if (Array.isArray(v)) return v;
  }
  return [];
}
