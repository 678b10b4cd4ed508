import { decodeChecked, encodeCanonical } from "../codec/codec-canonical.ts";
import { asMap, list, req, text, uint } from "../codec/codec-fields.ts";
import { DEFAULT_LIMITS } from "../codec/codec-limits.ts";
import { type BlobStore, supportsVolatile } from "./blob-store.ts";
import { GC_DELETING } from "./store-keys.ts";

/**
 * A gc intent (`gc/deleting`) older than this is from a dead gc run and is ignored. A live run
 * stops deleting once half of it has passed (the rest stays condemned for its next run).
 */
export const GC_INTENT_TTL_MS = 60_000;

/** gc intent (`gc/deleting`): the keys a gc run is about to delete, and when it said so. */
export interface GcIntent {
  readonly started: number;
  readonly keys: readonly string[];
}

export function encodeIntent(intent: GcIntent): Uint8Array {
  return encodeCanonical(
    { format: "vkc-gc-intent", started: intent.started, keys: [...intent.keys] },
    "gc intent",
  );
}

export function decodeIntent(bytes: Uint8Array, what: string): GcIntent {
  const m = asMap(decodeChecked(bytes, what, DEFAULT_LIMITS), what);
  return {
    started: req(m, "started", what, (v, p) => uint(v, p, Number.MAX_SAFE_INTEGER)),
    keys: req(m, "keys", what, (v, p) => list(v, p, DEFAULT_LIMITS.maxArrayLength, text)),
  };
}

/** The live gc intents by key (unreadable or expired ones count as none). */
async function liveIntents(blobs: BlobStore, now: number): Promise<Map<string, GcIntent>> {
  const out = new Map<string, GcIntent>();
  for await (const key of blobs.list(GC_DELETING)) {
    const bytes = await blobs.get(key);
    if (bytes === undefined) continue;
    try {
      const intent = decodeIntent(bytes, key);
      if (now - intent.started <= GC_INTENT_TTL_MS) out.set(key, intent);
    } catch {
      // unreadable: from no gc this code knows
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * In-progress write marker (`writes/<token>`): the keys a writer has written or reuses and has
 * not yet committed. gc treats every live marker's keys as reachable. A writer updates its
 * marker *before* putting each new pack, and deletes it only *after* putting the manifest, so
 * at every instant an object it needs is named by its marker or by a manifest.
 */
export interface WriteMarker {
  /** Epoch ms of the last update; markers older than gc's `markerTtlMs` are from dead writers. */
  readonly updated: number;
  /** Keys (`packs/…`, `blobs/…`) the write needs. */
  readonly keys: readonly string[];
}

export function encodeMarker(marker: WriteMarker): Uint8Array {
  return encodeCanonical(
    { format: "vkc-write-marker", updated: marker.updated, keys: [...marker.keys] },
    "marker",
  );
}

export function decodeMarker(bytes: Uint8Array, what: string): WriteMarker {
  const m = asMap(decodeChecked(bytes, what, DEFAULT_LIMITS), what);
  return {
    updated: req(m, "updated", what, (v, p) => uint(v, p, Number.MAX_SAFE_INTEGER)),
    keys: req(m, "keys", what, (v, p) => list(v, p, DEFAULT_LIMITS.maxArrayLength, text)),
  };
}

/** gc state (`gc/condemned`): unreachable key → epoch ms when gc first found it unreachable. */
export function encodeCondemned(condemned: ReadonlyMap<string, number>): Uint8Array {
  const entries = [...condemned].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, t]) => [k, t]);
  return encodeCanonical({ format: "vkc-gc-state", condemned: entries }, "gc state");
}

export function decodeCondemned(bytes: Uint8Array, what: string): Map<string, number> {
  const m = asMap(decodeChecked(bytes, what, DEFAULT_LIMITS), what);
  const out = new Map<string, number>();
  req(m, "condemned", what, (v, p) =>
    list(v, p, DEFAULT_LIMITS.maxArrayLength, (e, ep) => {
      if (!Array.isArray(e) || e.length !== 2) return;
      out.set(text(e[0], `${ep}[0]`), uint(e[1], `${ep}[1]`, Number.MAX_SAFE_INTEGER));
    }),
  );
  return out;
}

/** A live marker a writer keeps up to date. */
export class MarkerHandle {
  private readonly keys = new Set<string>();

  constructor(
    private readonly blobs: BlobStore,
    readonly key: string,
    private readonly now: () => number,
  ) {}

  /**
   * Name more keys in the marker and store it (before those keys are written). Then, if a gc run
   * in flight is deleting any of the new keys (its `gc/deleting/…` intent names them: it chose them
   * before this marker was visible), wait until that run is over. Returns those keys: they may be
   * gone now, so the caller (re)writes them, or checks they still exist before relying on them.
   * Keys named by earlier calls need no check: any gc run that starts later sees this marker.
   */
  async add(keys: Iterable<string>): Promise<string[]> {
    const added = [...keys].filter((k) => !this.keys.has(k));
    for (const k of added) this.keys.add(k);
    const marker = encodeMarker({ updated: this.now(), keys: [...this.keys] });
    // Markers coordinate live writers with gc: visible at once is what counts, not durable.
    if (supportsVolatile(this.blobs)) await this.blobs.putVolatile(this.key, marker);
    else await this.blobs.put(this.key, marker);
    if (added.length === 0) return [];
    const hits = (intents: Map<string, GcIntent>) => {
      const named = new Set<string>();
      for (const intent of intents.values()) for (const k of intent.keys) named.add(k);
      return added.filter((k) => named.has(k));
    };
    const hit = hits(await liveIntents(this.blobs, this.now()));
    if (hit.length === 0) return [];
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      await sleep(wait);
      // Runs that started after this marker was stored spare its keys; only the old ones matter,
      // but a run is known by its key alone, so wait until no live intent names these keys.
      if (hits(await liveIntents(this.blobs, this.now())).length === 0) return hit;
    }
  }

  async release(): Promise<void> {
    if (supportsVolatile(this.blobs)) await this.blobs.deleteVolatile(this.key);
    else await this.blobs.delete(this.key);
  }
}

export function newToken(now: number): string {
  return `${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`;
}
