import type { ImageStore } from "@vkc/checkpoint";
import type { CliIO } from "../main.ts";
import { type MeterOptions, withMeter } from "./progress-meter.ts";

/**
 * Run `write` (one checkpoint being written to `images`) under a "write" progress meter on
 * stderr: bytes put so far and the rate. Without a store yet, or under the interactive console
 * (`quiet`: its screen is the guest's, and its one-line notice says when the image is written),
 * it just runs `write`.
 */
export function meterWrite<T>(
  io: CliIO,
  images: ImageStore | null,
  quiet: boolean,
  write: () => Promise<T>,
  options: MeterOptions = {},
): Promise<T> {
  if (images === null || quiet) return write();
  const before = images.stats.bytesPut;
  return withMeter(io, "write", () => ({ bytes: images.stats.bytesPut - before }), write, options);
}
