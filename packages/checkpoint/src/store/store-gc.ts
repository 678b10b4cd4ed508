import type { Manifest } from "../model/model-manifest.ts";
import type { ImageId } from "../model/model-values.ts";
import { type ImageStoreCore, manifestBlobKeys } from "./image-store.ts";
import type { GcOptions, GcReport } from "./image-store-types.ts";
import { BLOBS, GC_STATE, MANIFESTS, PACKS, packKey, WRITES } from "./store-keys.ts";
import { decodeCondemned, decodeMarker, encodeCondemned } from "./store-markers.ts";

const HOUR = 60 * 60 * 1000;

/**
 * Delete packs and blobs no manifest and no live write marker reaches.
 *
 * The rule, safe while writers commit concurrently:
 * 1. list `packs/` and `blobs/` FIRST (the candidates), then the write markers, then the manifests;
 * 2. a candidate is reachable if a manifest or a live marker names it (a writer names a pack in
 *    its marker before putting the pack, and drops the marker only after putting its manifest,
 *    so any pack seen in step 1 is named by something seen later);
 * 3. an unreachable key is only *condemned* (remembered in `gc/condemned` with the time); it is
 *    deleted by a later run that finds it still unreachable at least `graceMs` after it was
 *    condemned. The grace covers objects written outside a marker (`putBlob` before
 *    `writeImage`, copies) and writers that reused a parent's pack just as the parent was removed.
 * A manifest that cannot be decoded stops gc (it may reference anything): remove or repair it.
 */
export async function collectGarbage(store: ImageStoreCore, options: GcOptions): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const graceMs = options.graceMs ?? HOUR;
  const markerTtlMs = options.markerTtlMs ?? 24 * HOUR;
  const now = store.now();

  const candidates: string[] = [];
  for await (const key of store.blobs.list(PACKS)) candidates.push(key);
  for await (const key of store.blobs.list(BLOBS)) candidates.push(key);

  const reachable = new Set<string>();
  let liveMarkers = 0;
  const expiredMarkers: string[] = [];
  for await (const key of store.blobs.list(WRITES)) {
    const bytes = await store.blobs.get(key);
    if (bytes === undefined) continue; // committed meanwhile: its manifest is listed below
    let marker: ReturnType<typeof decodeMarker> | undefined;
    try {
      marker = decodeMarker(bytes, key);
    } catch {
      marker = undefined;
    }
    if (marker !== undefined && now - marker.updated > markerTtlMs) {
      expiredMarkers.push(key);
      continue;
    }
    liveMarkers++;
    // An unreadable marker is treated as live but names nothing: the grace period still applies.
    for (const k of marker?.keys ?? []) reachable.add(k);
  }

  const ids: ImageId[] = [];
  for await (const key of store.blobs.list(MANIFESTS)) ids.push(key.slice(MANIFESTS.length));
  for (const id of ids) {
    let manifest: Manifest;
    try {
      manifest = await store.loadManifest(id, { verifySignature: false });
    } catch (error) {
      if ((error as { code?: string }).code === "NOT_FOUND") continue; // removed meanwhile
      throw error;
    }
    for (const p of manifest.packs) reachable.add(packKey(p));
    for (const k of manifestBlobKeys(manifest)) reachable.add(k);
  }

  const previous = await store.blobs.get(GC_STATE);
  const condemned = previous === undefined ? new Map<string, number>() : decodeCondemned(previous, GC_STATE);
  const unreachable = candidates.filter((k) => !reachable.has(k));
  const next = new Map<string, number>();
  const toDelete: string[] = [];
  for (const key of unreachable) {
    const since = condemned.get(key);
    if (since !== undefined && now - since >= graceMs) toDelete.push(key);
    else next.set(key, since ?? now);
  }

  let bytesFreed = 0;
  if (!dryRun) {
    for (const key of toDelete) {
      bytesFreed += (await store.blobs.head(key))?.size ?? 0;
      await store.blobs.delete(key);
    }
    for (const key of expiredMarkers) await store.blobs.delete(key);
    if (next.size > 0 || previous !== undefined) await store.blobs.put(GC_STATE, encodeCondemned(next));
  }
  return {
    dryRun,
    reachable: candidates.length - unreachable.length,
    unreachable,
    deleted: toDelete,
    bytesFreed,
    liveMarkers,
    expiredMarkers,
  };
}
