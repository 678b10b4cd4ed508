import { decodeChecked, encodeCanonical } from "../codec/codec-canonical.ts";
import { asMap, list, req, text, uint } from "../codec/codec-fields.ts";
import { DEFAULT_LIMITS } from "../codec/codec-limits.ts";
import type { BlobStore } from "./blob-store.ts";

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

  /** Name more keys in the marker and store it (before those keys are written). */
  async add(keys: Iterable<string>): Promise<void> {
    for (const k of keys) this.keys.add(k);
    await this.blobs.put(this.key, encodeMarker({ updated: this.now(), keys: [...this.keys] }));
  }

  async release(): Promise<void> {
    await this.blobs.delete(this.key);
  }
}

export function newToken(now: number): string {
  return `${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`;
}
