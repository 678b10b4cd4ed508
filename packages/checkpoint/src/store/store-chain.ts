import { ParentChainError } from "../image-errors.ts";
import type { ImageId } from "../model/model-values.ts";

export interface ChainWalk {
  /** `start` first, then each ancestor that exists. */
  readonly chain: readonly ImageId[];
  /** The first ancestor named but not in the store, if any. */
  readonly missing?: ImageId;
}

/**
 * Follow parent links from `start`. `parentOf` returns the parent id, `undefined` for a root, or
 * `null` when the image itself is not in the store. Refuses loops and chains deeper than
 * `maxDepth` with `ParentChainError` (a hostile store can claim anything).
 */
export async function walkParentChain(
  start: ImageId,
  parentOf: (id: ImageId) => Promise<ImageId | undefined | null>,
  maxDepth: number,
): Promise<ChainWalk> {
  const chain: ImageId[] = [];
  const seen = new Set<ImageId>();
  let current: ImageId | undefined = start;
  while (current !== undefined) {
    if (seen.has(current)) {
      throw new ParentChainError(start.slice(0, 12), `parent chain loops back to ${current.slice(0, 12)}`);
    }
    if (chain.length >= maxDepth) {
      throw new ParentChainError(start.slice(0, 12), `parent chain deeper than ${maxDepth}`);
    }
    const parent: ImageId | undefined | null = await parentOf(current);
    if (parent === null) {
      if (chain.length === 0) return { chain };
      return { chain, missing: current };
    }
    seen.add(current);
    chain.push(current);
    current = parent;
  }
  return { chain };
}
