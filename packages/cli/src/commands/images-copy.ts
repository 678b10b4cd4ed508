import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { formatBytes, plural, shortId } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";
import { withProgress } from "./images-progress.ts";

export interface ImagesCopyOptions extends ImagesCommandOptions {
  /** `--to URL`: the target store. */
  to: string;
  /** `--no-parents` sets false: copy only the image, not its ancestors. */
  parents?: boolean;
  /** `--tag NAME`: point ref NAME in the target at the image (default: IMAGE itself when it is a ref name). */
  tag?: string;
}

/**
 * `vkc images copy IMAGE --to URL`: copy an image (and its ancestors) to another store, skipping
 * what it has. When IMAGE is a ref name (`latest`), the target gets that ref too; `--tag NAME`
 * names another one.
 */
export async function imagesCopy(ref: string, opts: ImagesCopyOptions, ctx: ImagesContext): Promise<number> {
  const from = storeUrl(opts, ctx);
  const { io } = ctx;
  const { report, id, tag } = await withImageStore(from, opts, ctx, (source) =>
    withImageStore(opts.to, opts, ctx, async (target) => {
      const id = await source.images.resolve(ref);
      const report = await withProgress(io, "copy", [source.images.stats], () =>
        source.images.copy(id, target.images, { parents: opts.parents ?? true }),
      );
      // `copy latest --to X` then `restore latest --store X`: a ref named as IMAGE comes along.
      const named = (await source.images.refs()).some((r) => r.name === ref && r.id === id);
      const tag = opts.tag ?? (named ? ref : undefined);
      if (tag !== undefined) await target.images.tag(tag, id);
      return { report, id, tag };
    }),
  );
  if (opts.json) {
    jsonEvent(io, "copy", {
      from,
      to: opts.to,
      id,
      ...report,
      ...(tag === undefined ? {} : { tag }),
    });
    return 0;
  }
  const skipped = report.imagesSkipped.length > 0 ? ` (${report.imagesSkipped.length} already there)` : "";
  const ids = report.images.map(shortId).join(", ");
  io.out(
    `copied ${plural(report.images.length, "image")}${ids ? ` [${ids}]` : ""}${skipped}, ${plural(report.packsCopied, "pack")} (${report.packsSkipped} skipped), ${plural(report.blobsCopied, "blob")}, ${formatBytes(report.bytesCopied)} to ${opts.to}${tag === undefined ? "" : ` (tagged ${tag})`}\n`,
  );
  return 0;
}
