import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { plural, shortId } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";
import { withProgress } from "./images-progress.ts";

/**
 * `vkc images verify [IMAGE]`: check every pack, page, blob, manifest, ref and parent chain (or
 * one image's). Prints one line per damaged object naming the images it breaks and exits 1, or a
 * summary and exits 0.
 */
export async function imagesVerify(
  ref: string | undefined,
  opts: ImagesCommandOptions,
  ctx: ImagesContext,
): Promise<number> {
  const url = storeUrl(opts, ctx);
  const { io } = ctx;
  const report = await withImageStore(url, opts, ctx, ({ images }) =>
    withProgress(io, "verify", [images.stats], () => images.verify(ref)),
  );
  if (opts.json) {
    for (const p of report.problems)
      jsonEvent(io, "problem", { object: p.object, problem: p.problem, images: p.images });
    jsonEvent(io, "verify", {
      ok: report.ok,
      store: url,
      images: report.images,
      packs: report.packs,
      pages: report.pages,
      blobs: report.blobs,
      problems: report.problems.length,
      damagedImages: report.damagedImages,
    });
  } else {
    for (const p of report.problems) {
      const breaks = p.images.length === 0 ? "breaks no image" : `breaks ${p.images.map(shortId).join(", ")}`;
      io.out(`${p.object}: ${p.problem} (${breaks})\n`);
    }
    if (report.ok) {
      io.out(
        `ok: ${plural(report.images, "image")}, ${plural(report.packs, "pack")}, ${plural(report.pages, "page")}, ${plural(report.blobs, "blob")} verified in ${url}\n`,
      );
    }
  }
  if (report.ok) return 0;
  io.err(
    `vkc: ${plural(report.problems.length, "damaged object")} in ${url}, ${plural(report.damagedImages.length, "image")} of ${report.images} broken\n`,
  );
  return 1;
}
