import {
  type ImageListing,
  type ImageStore,
  type Manifest,
  PAGE_SIZE,
  pageMapEntries,
} from "@vkc/checkpoint";
import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { readBootRecord } from "./boot-record.ts";
import { columns, formatAge, formatBytes, formatTime, shortId } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";

/** One image of `vkc images ls`, in tree order. */
export interface ImageRow {
  listing: ImageListing;
  /** Ancestors shown above it (0 for a root). */
  depth: number;
  /** Tree drawing before the id: `├─ `, `│  └─ `... */
  branch: string;
  /** comm (or argv[0]) of the first process, and how many processes the image holds. */
  program?: string;
  processes?: number;
  /** Bytes of pages whose content the parent does not hold (when the parent is in the store). */
  newBytes?: number;
  /** Why the manifest cannot be read (damaged, or signed with another key). */
  damaged?: string;
}

/** `vkc images ls`: every image as a tree of parent chains, oldest first. */
export async function imagesLs(opts: ImagesCommandOptions, ctx: ImagesContext): Promise<number> {
  const url = storeUrl(opts, ctx);
  const rows = await withImageStore(url, opts, ctx, async ({ images }) => imageTree(images));
  const { io } = ctx;
  if (opts.json) {
    for (const row of rows) {
      const { listing: l } = row;
      jsonEvent(io, "image", {
        id: l.id,
        parent: l.parent ?? null,
        time: l.time ?? null,
        kind: l.kind ?? null,
        pages: l.pages,
        bytes: l.bytes,
        manifestBytes: l.manifestBytes,
        refs: l.refs,
        program: row.program ?? null,
        processes: row.processes ?? 0,
        depth: row.depth,
        newBytes: row.newBytes ?? null,
        ...(row.damaged === undefined ? {} : { damaged: row.damaged }),
      });
    }
    return 0;
  }
  if (rows.length === 0) {
    io.err(`vkc: no images in ${url}\n`);
    return 0;
  }
  const now = Date.now();
  const table = columns([
    ["IMAGE", "CREATED", "AGE", "SIZE", "PROGRAM", "REFS"],
    ...rows.map((row) => {
      const l = row.listing;
      const program =
        row.damaged !== undefined
          ? `DAMAGED: ${row.damaged}`
          : `${row.program ?? "-"}${(row.processes ?? 0) > 1 ? ` +${(row.processes ?? 1) - 1}` : ""}`;
      return [
        `${row.branch}${shortId(l.id)}`,
        formatTime(l.time),
        formatAge(l.time, now),
        row.newBytes === undefined
          ? formatBytes(l.bytes)
          : `${formatBytes(l.bytes)} (+${formatBytes(row.newBytes)})`,
        program,
        l.refs.length > 0 ? `[${refOrder(l.refs).join(", ")}]` : "",
      ];
    }),
  ]);
  io.out(`${table.join("\n")}\n`);
  return 0;
}

/** `latest` first, then the other refs by name. */
function refOrder(refs: readonly string[]): string[] {
  return [...refs].sort((a, b) => (a === "latest" ? -1 : b === "latest" ? 1 : a.localeCompare(b)));
}

/** The store's images as rows of a tree: each image under its parent, siblings oldest first. */
export async function imageTree(images: ImageStore): Promise<ImageRow[]> {
  const listing = await images.list();
  const byId = new Map(listing.map((l) => [l.id, l]));
  const children = new Map<string, ImageListing[]>();
  const roots: ImageListing[] = [];
  for (const l of listing) {
    if (l.parent !== undefined && byId.has(l.parent) && l.parent !== l.id) {
      children.set(l.parent, [...(children.get(l.parent) ?? []), l]);
    } else {
      roots.push(l);
    }
  }
  const rows: ImageRow[] = [];
  const seen = new Set<string>();
  const walk = (l: ImageListing, depth: number, lead: string, last: boolean): void => {
    if (seen.has(l.id)) return;
    seen.add(l.id);
    rows.push({ listing: l, depth, branch: depth === 0 ? "" : `${lead}${last ? "└─ " : "├─ "}` });
    const kids = children.get(l.id) ?? [];
    const nextLead = depth === 0 ? "" : `${lead}${last ? "   " : "│  "}`;
    kids.forEach((kid, i) => {
      walk(kid, depth + 1, nextLead, i === kids.length - 1);
    });
  };
  for (const root of roots) walk(root, 0, "", true);
  // Images on a parent loop are reachable from no root: list them as roots.
  for (const l of listing) walk(l, 0, "", true);

  const manifests = new Map<string, Manifest>();
  for (const row of rows) {
    if (row.listing.damaged !== undefined) {
      row.damaged = row.listing.damaged;
      continue;
    }
    try {
      const manifest = await images.readManifest(row.listing.id);
      manifests.set(row.listing.id, manifest);
      const first = manifest.processes[0];
      if (first !== undefined) row.program = first.comm || first.argv[0] || "?";
      // A vkernel: name its first guest too (`vkernel:threads.elf`).
      const guest = readBootRecord(manifest)?.config.guests[0]?.argv[0];
      if (guest !== undefined) row.program = `${row.program}:${guest.split("/").pop()}`;
      row.processes = manifest.processes.length;
    } catch (error) {
      row.damaged = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    }
  }
  for (const row of rows) {
    const manifest = manifests.get(row.listing.id);
    const parent = row.listing.parent === undefined ? undefined : manifests.get(row.listing.parent);
    if (manifest !== undefined && parent !== undefined) row.newBytes = newPages(manifest, parent) * PAGE_SIZE;
  }
  return rows;
}

/** Pages of `manifest` whose content `parent` does not hold (what an incremental image added). */
function newPages(manifest: Manifest, parent: Manifest): number {
  const held = new Set<string>();
  for (const o of parent.objects) for (const hash of pageMapEntries(o.pages).values()) held.add(hash);
  let count = 0;
  for (const o of manifest.objects)
    for (const hash of pageMapEntries(o.pages).values()) if (!held.has(hash)) count++;
  return count;
}
