import { writeFile } from "node:fs/promises";
import {
  diffImages,
  type ImageStore,
  type Manifest,
  REG_NAMES,
  renderDiff,
  renderSummary,
  summarizeImage,
} from "@vkc/checkpoint";
import { CliError } from "../errors.ts";
import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { hex32 } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";
import { manifestRunNetwork, type RunNetworkRecord } from "./net-record.ts";

export interface ImagesShowOptions extends ImagesCommandOptions {
  /** `--no-regs`: leave out the register dump of each thread. */
  regs?: boolean;
  /** `--html FILE`: write a self-contained HTML page instead of the text. */
  html?: string;
}

export interface ImagesDiffOptions extends ImagesCommandOptions {
  /** `--html FILE`: write a self-contained HTML page instead of the text. */
  html?: string;
}

/** Write an HTML page and say where on stderr (stdout keeps only `--json` output). */
async function writeHtml(file: string, render: () => Promise<string>, ctx: ImagesContext): Promise<void> {
  const html = await render();
  try {
    await writeFile(file, html);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(
      "WRITE_FAILED",
      `cannot write HTML page ${file}: ${code} (check the directory exists and is writable)`,
      {
        cause: error,
      },
    );
  }
  ctx.io.err(`vkc: wrote ${file} (${html.length} bytes); open it in a browser\n`);
}

/** `vkc images show IMAGE`: processes, threads (registers, tp, masks), vmspace map with page counts, descriptors. */
export async function imagesShow(ref: string, opts: ImagesShowOptions, ctx: ImagesContext): Promise<number> {
  const { manifest, parent, vkernel } = await withImageStore(
    storeUrl(opts, ctx),
    opts,
    ctx,
    async ({ images }) => {
      const manifest = await images.readManifest(ref);
      const { vkernelSection } = await import("./images-vkernel.ts");
      return {
        manifest,
        parent: await readParent(images, manifest),
        vkernel: await vkernelSection(images, ref, manifest),
      };
    },
  );
  const summary = summarizeImage(manifest, parent === undefined ? {} : { parent });
  if (opts.html !== undefined) {
    const { renderImageHtml } = await import("./images-html.ts");
    await writeHtml(opts.html, async () => renderImageHtml(manifest, summary, parent, vkernel), ctx);
  }
  if (opts.json) {
    jsonEvent(ctx.io, "image", {
      id: manifest.integrity?.digest ?? null,
      summary,
      registers: manifest.processes.flatMap((p) =>
        p.lwps.map((l) => ({
          pid: p.pid,
          tid: l.tid,
          regs: Object.fromEntries(REG_NAMES.map((name, r) => [name, l.regs[r] ?? 0])),
        })),
      ),
      ...(vkernel === null ? {} : { vkernel }),
      ...networkField(manifest),
    });
    return 0;
  }
  if (opts.html === undefined) {
    ctx.io.out(renderShow(manifest, renderSummary(summary), opts.regs ?? true));
    if (vkernel !== null) {
      const { renderVkernelText } = await import("./images-vkernel.ts");
      ctx.io.out(`${renderVkernelText(vkernel, opts.regs ?? true).join("\n")}\n`);
    }
  }
  return 0;
}

/** The parent's manifest when the store still has it (for "shared with parent" page counts). */
async function readParent(images: ImageStore, manifest: Manifest): Promise<Manifest | undefined> {
  if (manifest.parent === undefined) return undefined;
  try {
    return await images.readManifest(manifest.parent);
  } catch {
    return undefined; // a removed parent is allowed: the image lists every pack it needs
  }
}

/**
 * The checkpoint package's summary text, with each thread's registers under its line and a note of
 * the signature and the opaque vkernel section, which the summary leaves out.
 */
export function renderShow(manifest: Manifest, summaryText: string, withRegs: boolean): string {
  const out: string[] = [];
  let pid: number | undefined;
  for (const line of summaryText.replace(/\n$/, "").split("\n")) {
    out.push(line);
    const process = /^process (\d+) /.exec(line);
    if (process) pid = Number(process[1]);
    const thread = /^ {2}thread (\d+):/.exec(line);
    if (thread && withRegs) {
      const tid = Number(thread[1]);
      const lwp = manifest.processes.find((p) => p.pid === pid)?.lwps.find((l) => l.tid === tid);
      if (lwp !== undefined) out.push(...registerLines(lwp.regs, "      "));
    }
  }
  if (manifest.integrity?.signature !== undefined) out.push("signed (HMAC-SHA256)");
  out.push(...networkLines(manifest));
  if (manifest.vkernel !== undefined) {
    out.push(`vkernel state: ${Object.keys(manifest.vkernel).length} sections`);
  }
  return `${out.join("\n")}\n`;
}

/** The `vkc run --net` record of an image, as `--json` shows it (`network`), if it has one. */
function networkField(manifest: Manifest): { network?: RunNetworkRecord } {
  const record = manifestRunNetwork(manifest.extensions);
  return record.interfaces.length === 0 ? {} : { network: record };
}

/** `network: eth0 10.0.0.1/24 on br0, …; UDP bridge 127.0.0.1:7007 → eth0` for a `vkc run --net` image. */
function networkLines(manifest: Manifest): string[] {
  const { network } = networkField(manifest);
  if (network === undefined) return [];
  const ifs = network.interfaces.map((n) => `${n.name} ${n.address}/${n.prefixLength} on ${n.bridge}`);
  const u = network.udpBridge;
  const uplink = u === undefined ? "" : `; UDP bridge ${u.host}:${u.port} → ${network.interfaces[0]?.name}`;
  return [`network: ${ifs.join(", ")}${uplink} (vkc restore re-creates them)`];
}

/** `vkc images diff A B`: what changed from A to B. */
export async function imagesDiff(
  a: string,
  b: string,
  opts: ImagesDiffOptions,
  ctx: ImagesContext,
): Promise<number> {
  const [from, to] = await withImageStore(storeUrl(opts, ctx), opts, ctx, async ({ images }) =>
    Promise.all([images.readManifest(a), images.readManifest(b)]),
  );
  const diff = diffImages(from, to);
  if (opts.html !== undefined) {
    const { renderDiffHtml } = await import("./images-html-diff.ts");
    await writeHtml(opts.html, async () => renderDiffHtml(diff, a, b), ctx);
  }
  if (opts.json) {
    jsonEvent(ctx.io, "diff", { ...diff });
    return 0;
  }
  if (opts.html === undefined) ctx.io.out(renderDiff(diff));
  return 0;
}

/** x1..x31 by ABI name, four to a line (x0 is always zero; pc is on the thread line). */
export function registerLines(regs: readonly number[], indent: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  for (let r = 1; r < 32; r++) {
    line.push(`${(REG_NAMES[r] ?? `x${r}`).padStart(4)} ${hex32(regs[r] ?? 0)}`);
    if (line.length === 4) {
      lines.push(indent + line.join("  "));
      line = [];
    }
  }
  if (line.length > 0) lines.push(indent + line.join("  "));
  return lines;
}
