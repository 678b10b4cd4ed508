import type { CborMap, CborValue } from "@vkc/checkpoint";
import { VkernelStateError } from "../errors.ts";
import type { VkernelTap } from "../vkernel-config.ts";

/**
 * vke's part of the vkernel state (DESIGN.md §5.8): its config, the taps as given (the frames
 * queued in its rings are in vmspace0 memory, which the host image holds). Fixed key order:
 * device, address ("" for none), bridge ("" for the default).
 */
export function vkeTapsState(taps: readonly VkernelTap[] | undefined): CborValue[] {
  return (taps ?? []).map((t) => ({ device: t.device, address: t.address ?? "", bridge: t.bridge ?? "" }));
}

/** The taps of a state's config (none when the state predates vke); VkernelStateError if malformed. */
export function vkeTapsFromState(value: CborValue | undefined): VkernelTap[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 64)
    throw new VkernelStateError("config.taps is not a list of taps");
  return value.map((item, i) => {
    const m = item as CborMap;
    const text = (k: string): string => {
      const v = m !== null && typeof m === "object" ? m[k] : undefined;
      if (typeof v !== "string") throw new VkernelStateError(`config.taps[${i}].${k} is not text`);
      return v;
    };
    const address = text("address");
    const bridge = text("bridge");
    return {
      device: text("device"),
      ...(address === "" ? {} : { address }),
      ...(bridge === "" ? {} : { bridge }),
    };
  });
}
