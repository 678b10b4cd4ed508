import type { IncomingHttpHeaders } from "node:http";
import type { RequestBody } from "./server-body.ts";
import { errors } from "./server-errors.ts";
import type { BucketState, ServerState } from "./server-state.ts";
import type { ObjectMeta } from "./server-storage.ts";

/** What an operation handler gets, and what it returns. */

export interface HandlerContext {
  state: ServerState;
  method: string;
  bucket: string;
  key: string;
  query: ReadonlyMap<string, string>;
  headers: IncomingHttpHeaders;
  body: RequestBody;
  region: string;
  minPartSize: number;
  maxMultipartBytes: number;
  now: number;
}

export interface S3Response {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export const OWNER = { ID: "vkc-s3mock", DisplayName: "vkc" };
const MAX_METADATA_BYTES = 2048;

export function header(ctx: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

export function xml(status: number, body: string, headers: Record<string, string> = {}): S3Response {
  return { status, headers: { "content-type": "application/xml", ...headers }, body };
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function requireBucket(ctx: HandlerContext): BucketState {
  const bucket = ctx.state.buckets.get(ctx.bucket);
  if (bucket === undefined) throw errors.noSuchBucket(ctx.bucket);
  return bucket;
}

/** `x-amz-meta-*` headers, names without the prefix. */
export function userMetadata(ctx: HandlerContext): Record<string, string> {
  const out: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(ctx.headers)) {
    if (!name.startsWith("x-amz-meta-") || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(",") : value;
    const short = name.slice("x-amz-meta-".length);
    size += short.length + v.length;
    out[short] = v;
  }
  if (size > MAX_METADATA_BYTES) {
    throw errors.invalidArgument(
      `Your metadata headers exceed the maximum allowed metadata size (${MAX_METADATA_BYTES} bytes)`,
    );
  }
  return out;
}

export function objectHeaders(meta: ObjectMeta): Record<string, string> {
  const headers: Record<string, string> = {
    etag: meta.etag,
    "last-modified": httpDate(meta.lastModified),
    "content-type": meta.contentType,
    "accept-ranges": "bytes",
  };
  for (const [k, v] of Object.entries(meta.metadata)) headers[`x-amz-meta-${k}`] = v;
  return headers;
}

function normalizeEtag(tag: string): string {
  let t = tag.trim();
  if (t.startsWith("W/")) t = t.slice(2);
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) t = t.slice(1, -1);
  return t;
}

/** Does an If-Match / If-None-Match header value match `etag`? (`*` matches anything.) */
export function etagMatches(condition: string, etag: string): boolean {
  const want = normalizeEtag(etag);
  return condition.split(",").some((c) => c.trim() === "*" || normalizeEtag(c) === want);
}

export function sameEtag(a: string, b: string): boolean {
  return normalizeEtag(a) === normalizeEtag(b);
}

/** Check If-None-Match / If-Match of a write against the current object. */
export function checkWriteConditions(ctx: HandlerContext, existing: ObjectMeta | undefined): void {
  const ifNoneMatch = header(ctx, "if-none-match");
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== "*") throw errors.notImplemented("If-None-Match other than * on a write");
    if (existing !== undefined) throw errors.preconditionFailed("If-None-Match");
  }
  const ifMatch = header(ctx, "if-match");
  if (ifMatch !== undefined) {
    if (existing === undefined) throw errors.noSuchKey(ctx.key);
    if (!etagMatches(ifMatch, existing.etag)) throw errors.preconditionFailed("If-Match");
  }
}

export function parseIntParam(
  query: ReadonlyMap<string, string>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,10}$/.test(raw))
    throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  const n = Number(raw);
  if (n < min)
    throw errors.invalidArgument(`Argument ${name} must be an integer between ${min} and ${max}`, name, raw);
  return Math.min(n, max);
}
