import { CliError, UsageError } from "../errors.ts";
import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { shortId } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";

/** `vkc images rm IMAGE`: drop an image's manifest and the refs that point at it (gc reclaims its packs). */
export async function imagesRm(ref: string, opts: ImagesCommandOptions, ctx: ImagesContext): Promise<number> {
  const { id, refs } = await withImageStore(storeUrl(opts, ctx), opts, ctx, ({ images }) =>
    images.remove(ref),
  );
  if (opts.json) jsonEvent(ctx.io, "removed", { id, refs });
  else ctx.io.out(`removed ${shortId(id)}${refs.length > 0 ? ` (refs ${refs.join(", ")})` : ""}\n`);
  return 0;
}

export interface ImagesTagOptions extends ImagesCommandOptions {
  delete?: boolean;
}

/** `vkc images tag NAME IMAGE` points a ref at an image; `vkc images tag --delete NAME` removes the ref. */
export async function imagesTag(
  name: string,
  ref: string | undefined,
  opts: ImagesTagOptions,
  ctx: ImagesContext,
): Promise<number> {
  const url = storeUrl(opts, ctx);
  if (opts.delete) {
    if (ref !== undefined) throw new UsageError("tag --delete takes only the ref NAME");
    const id = await withImageStore(url, opts, ctx, async ({ images }) => {
      const found = (await images.refs()).find((r) => r.name === name);
      if (found === undefined)
        throw new CliError("NOT_FOUND", `ref ${JSON.stringify(name)}: not found in store ${url}`);
      await images.untag(name);
      return found.id;
    });
    if (opts.json) jsonEvent(ctx.io, "untagged", { name, id });
    else ctx.io.out(`untagged ${name} (was ${shortId(id)})\n`);
    return 0;
  }
  if (ref === undefined) throw new UsageError("tag needs NAME and IMAGE (or --delete NAME)");
  const id = await withImageStore(url, opts, ctx, ({ images }) => images.tag(name, ref));
  if (opts.json) jsonEvent(ctx.io, "tagged", { name, id });
  else ctx.io.out(`tagged ${name} -> ${shortId(id)}\n`);
  return 0;
}
