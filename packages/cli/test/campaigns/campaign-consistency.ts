import type { BlobStore } from "@vkc/checkpoint";
import { createImageStore, listKeys, readAllPages, sleep } from "./campaign-support.ts";

/** What a store holds after a campaign: images listed, pages read back, orphans reclaimed. */
export interface ConsistencyReport {
  listed: number;
  pagesRead: number;
  orphansReclaimed: number;
}

/**
 * Checks a store after writers died: every `committed` id is listed, every listed image
 * verifies and reads back whole, and two gc runs (grace 0, dead markers expired) leave
 * exactly the packs the manifests name (so every image still has all it verified with).
 */
export async function checkConsistent(
  blobs: BlobStore,
  committed: Iterable<string>,
): Promise<ConsistencyReport> {
  const images = createImageStore(blobs);
  const listed = await images.list();
  const ids = new Set(listed.map((l) => l.id));
  const damaged = listed.filter((l) => l.damaged !== undefined).map((l) => `${l.id}: ${l.damaged}`);
  if (damaged.length > 0) throw new Error(`damaged images listed: ${damaged.join("; ")}`);
  for (const id of committed) if (!ids.has(id)) throw new Error(`committed image ${id} is not listed`);
  let pagesRead = 0;
  const needed = new Set<string>();
  for (const id of ids) {
    const report = await images.verify(id);
    if (!report.ok) throw new Error(`image ${id} does not verify: ${JSON.stringify(report.problems)}`);
    pagesRead += await readAllPages(images, id);
    for (const pack of (await images.readManifest(id)).packs) needed.add(`packs/${pack}`);
  }
  await sleep(5); // markers of dead writers are now older than a TTL of 0
  const first = await images.gc({ graceMs: 0, markerTtlMs: 0 });
  const second = await images.gc({ graceMs: 0, markerTtlMs: 0 });
  const packs = await listKeys(blobs, "packs/");
  const left = packs.filter((k) => !needed.has(k));
  if (left.length > 0) throw new Error(`gc left ${left.length} orphan packs, e.g. ${left[0]}`);
  for (const key of needed)
    if (!packs.includes(key)) throw new Error(`gc deleted ${key}, which a manifest needs`);
  const markers = await listKeys(blobs, "writes/");
  if (markers.length > 0) throw new Error(`gc left ${markers.length} dead write markers`);
  return { listed: ids.size, pagesRead, orphansReclaimed: first.deleted.length + second.deleted.length };
}
