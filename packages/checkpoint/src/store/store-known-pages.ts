import type { Manifest } from "../model/model-manifest.ts";
import type { ImageId, Sha256Hex } from "../model/model-values.ts";
import type { PageMap } from "../model/model-vm.ts";
import { HashTable } from "./store-hash-table.ts";
import type { PageLayout } from "./store-page-layout.ts";

/** Chains whose tables are kept (like the layouts an image store keeps). */
const CHAINS_KEPT = 4;

/** One chain's table: content hash → pack (an ordinal of `packs`). */
interface ChainTable {
  readonly table: HashTable;
  readonly packs: Sha256Hex[];
  readonly ordinals: Map<Sha256Hex, number>;
}

/**
 * Which pack holds each page content of a chain of images, kept across writes so that an
 * incremental image dedups its few new pages against its parent's many at a cost that grows
 * with the new pages, not with the parent's (issue 8, target 4).
 *
 * A table belongs to the newest image of a chain: writing a child moves it from the parent to the
 * child and adds the child's new pages (O(new pages)); a parent without a table gets one built
 * from its layout, once (O(its pages)). Packs are immutable, so an entry stays true; whether a
 * write may reuse it depends only on whether the pack is one of its parent's (the parent's
 * manifest protects only its own packs: FORMAT.md §7), which `lookupIn` answers per write in
 * O(packs). A content stored in two packs of a chain keeps the newer one, the one a descendant
 * most likely still lists; a reuse can be missed (the page is written again), never made wrongly.
 * Tables are per chain so that an unrelated image never shadows a parent's entries.
 */
export class KnownPages {
  private readonly chains = new Map<ImageId, ChainTable>();

  /**
   * A lookup for a write over image `id` (`manifest`, laid out as `layout`): the parent's pack
   * slot of the pack holding the content at `hashes[at ..]`, or -1 if none of its packs is known
   * to. Builds the image's table first if it has none.
   */
  lookupIn(
    id: ImageId,
    manifest: Pick<Manifest, "objects">,
    layout: PageLayout,
  ): (hashes: Uint8Array, at: number) => number {
    let chain = this.chains.get(id);
    if (chain === undefined) {
      chain = newChain(pageCount(manifest.objects));
      for (const o of manifest.objects) {
        const slots = layout.slots.get(o.id);
        if (slots !== undefined) addPages(chain, o.pages, slots, layout.packs);
      }
      this.keep(id, chain);
    }
    const { table, ordinals } = chain;
    const slotOf = new Int32Array(chain.packs.length).fill(-1);
    layout.packs.forEach((pack, slot) => {
      const ordinal = ordinals.get(pack);
      if (ordinal !== undefined && layout.pagesInPack[slot]! > 0) slotOf[ordinal] = slot;
    });
    return (hashes, at) => {
      const ordinal = table.get(hashes, at);
      return ordinal < 0 || ordinal >= slotOf.length ? -1 : slotOf[ordinal]!;
    };
  }

  /**
   * Start the chain of image `id`, written with no parent: `table` maps each of its page
   * contents to the index in `packs` of the pack holding it (the pack writer's own dedup table,
   * taken over as it is: no page is hashed into a table twice).
   */
  started(id: ImageId, table: HashTable, packs: readonly Sha256Hex[]): void {
    this.keep(id, { table, packs: [...packs], ordinals: new Map(packs.map((p, i) => [p, i])) });
  }

  /**
   * Record image `id`, written over `from`: its parent, or `null` for pages inherited from
   * something that is not an image (a pre-copy stage: no table is kept then). The pages it added
   * (`isNew` per page-map entry) go into its parent's table, which passes to it.
   */
  written(
    id: ImageId,
    from: ImageId | null,
    manifest: Pick<Manifest, "objects">,
    layout: PageLayout,
    isNew: ReadonlyMap<number, Uint8Array>,
  ): void {
    if (from === null) return;
    const chain = this.chains.get(from);
    if (chain === undefined) return; // the next child builds it from this image's layout
    this.chains.delete(from);
    for (const o of manifest.objects) {
      const slots = layout.slots.get(o.id);
      const fresh = isNew.get(o.id);
      if (slots !== undefined && fresh !== undefined) addPages(chain, o.pages, slots, layout.packs, fresh);
    }
    this.keep(id, chain);
  }

  private keep(id: ImageId, chain: ChainTable): void {
    this.chains.delete(id);
    if (this.chains.size >= CHAINS_KEPT) this.chains.delete(this.chains.keys().next().value!);
    this.chains.set(id, chain);
  }
}

function newChain(expected: number): ChainTable {
  return { table: new HashTable(expected), packs: [], ordinals: new Map() };
}

/** Add the entries of `map` (only those `only` marks, if given) with the packs `slots` name. */
function addPages(
  chain: ChainTable,
  map: PageMap,
  slots: Uint32Array,
  packs: readonly Sha256Hex[],
  only?: Uint8Array,
): void {
  const ordinalOfSlot = packs.map((pack) => {
    let ordinal = chain.ordinals.get(pack);
    if (ordinal === undefined) {
      ordinal = chain.packs.length;
      chain.packs.push(pack);
      chain.ordinals.set(pack, ordinal);
    }
    return ordinal;
  });
  for (let k = 0; k < slots.length; k++) {
    if (only !== undefined && only[k] === 0) continue;
    const ordinal = ordinalOfSlot[slots[k]!];
    if (ordinal !== undefined) chain.table.set(map.hashes, k * 32, ordinal);
  }
}

function pageCount(objects: Pick<Manifest, "objects">["objects"]): number {
  let n = 0;
  for (const o of objects) n += o.pages.indexes.length;
  return n;
}
