import type { Manifest } from "../model/model-manifest.ts";
import type { ImageId } from "../model/model-values.ts";
import { type ImageStoreCore, manifestBlobKeys } from "./image-store.ts";
import type { GcOptions, GcReport } from "./image-store-types.ts";
import { BLOBS, GC_DELETING, GC_STATE, intentKey, MANIFESTS, PACKS, packKey, WRITES } from "./store-keys.ts";
import {
  decodeCondemned,
  decodeIntent,
  decodeMarker,
  encodeCondemned,
  encodeIntent,
  GC_INTENT_TTL_MS,
  newToken,
} from "./store-markers.ts";

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
 * 4. before deleting, gc puts its intent (`gc/deleting/<token>`: the keys it will delete), then
 *    lists the markers and the new manifests again and spares whatever they name. A writer that
 *    names a key in its marker after that second listing reads the intents after putting its
 *    marker, finds the key and waits for the run to end before (re)writing it
 *    (`MarkerHandle.add`). So a pack a writer re-puts, or dedups against, while gc deletes it is
 *    never lost. The intent lives `GC_INTENT_TTL_MS` at most; gc stops deleting at half of it.
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
  const { live: liveMarkers, expired: expiredMarkers } = await markMarkers(
    store,
    reachable,
    now,
    markerTtlMs,
  );
  const ids = new Set<ImageId>();
  await markManifests(store, reachable, ids);

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
  const deleted: string[] = [];
  if (!dryRun) {
    await dropDeadIntents(store, now);
    if (toDelete.length > 0) {
      const started = store.now();
      const intent = intentKey(newToken(started));
      await store.blobs.put(intent, encodeIntent({ started, keys: toDelete }));
      try {
        // Writers that named a key after the listings above: spare it (it is reachable again).
        const again = new Set<string>();
        await markMarkers(store, again, store.now(), markerTtlMs);
        await markManifests(store, again, ids);
        for (const key of toDelete) {
          if (again.has(key)) continue;
          // Past half the intent's lifetime writers may take it for dead: keep the rest condemned.
          if (store.now() - started > GC_INTENT_TTL_MS / 2) {
            next.set(key, condemned.get(key) ?? now);
            continue;
          }
          bytesFreed += (await store.blobs.head(key))?.size ?? 0;
          await store.blobs.delete(key);
          deleted.push(key);
        }
      } finally {
        await store.blobs.delete(intent);
      }
    }
    for (const key of expiredMarkers) await store.blobs.delete(key);
    if (next.size > 0 || previous !== undefined) await store.blobs.put(GC_STATE, encodeCondemned(next));
  }
  return {
    dryRun,
    reachable: candidates.length - unreachable.length,
    unreachable,
    deleted: dryRun ? toDelete : deleted,
    bytesFreed,
    liveMarkers,
    expiredMarkers,
  };
}

/** Add the keys live markers name to `reachable`; count the live ones, collect the expired ones. */
async function markMarkers(
  store: ImageStoreCore,
  reachable: Set<string>,
  now: number,
  markerTtlMs: number,
): Promise<{ live: number; expired: string[] }> {
  let live = 0;
  const expired: string[] = [];
  for await (const key of store.blobs.list(WRITES)) {
    const bytes = await store.blobs.get(key);
    if (bytes === undefined) continue; // committed meanwhile: its manifest is listed next
    let marker: ReturnType<typeof decodeMarker> | undefined;
    try {
      marker = decodeMarker(bytes, key);
    } catch {
      marker = undefined;
    }
    if (marker !== undefined && now - marker.updated > markerTtlMs) {
      expired.push(key);
      continue;
    }
    live++;
    // An unreadable marker is treated as live but names nothing: the grace period still applies.
    for (const k of marker?.keys ?? []) reachable.add(k);
  }
  return { live, expired };
}

/** Add the keys of every manifest not in `seen` to `reachable` (and its id to `seen`). */
async function markManifests(
  store: ImageStoreCore,
  reachable: Set<string>,
  seen: Set<ImageId>,
): Promise<void> {
  const ids: ImageId[] = [];
  for await (const key of store.blobs.list(MANIFESTS)) {
    const id = key.slice(MANIFESTS.length);
    if (!seen.has(id)) ids.push(id);
  }
  for (const id of ids) {
    seen.add(id);
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
}

/** Delete the intents of gc runs that died while deleting (older than `GC_INTENT_TTL_MS`). */
async function dropDeadIntents(store: ImageStoreCore, now: number): Promise<void> {
  for await (const key of store.blobs.list(GC_DELETING)) {
    const bytes = await store.blobs.get(key);
    if (bytes === undefined) continue;
    let started = 0;
    try {
      started = decodeIntent(bytes, key).started;
    } catch {
      started = 0;
    }
    if (now - started > GC_INTENT_TTL_MS) await store.blobs.delete(key);
  }
}
