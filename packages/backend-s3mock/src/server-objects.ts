import { checksumHeaderName, md5Hex } from "./server-checksum.ts";
import {
  checkWriteConditions,
  etagMatches,
  type HandlerContext,
  header,
  isoDate,
  objectHeaders,
  requireBucket,
  type S3Response,
  userMetadata,
  xml,
} from "./server-context.ts";
import { errors } from "./server-errors.ts";
import { decodeComponent } from "./server-sigv4.ts";
import type { ObjectMeta } from "./server-storage.ts";
import { renderXml } from "./server-xml.ts";

/** PutObject, GetObject, HeadObject, DeleteObject, CopyObject. */

function lockName(bucket: string, key: string): string {
  return `key\0${bucket}\0${key}`;
}

export async function putObject(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const { chunks, size } = ctx.body;
  const meta: ObjectMeta = {
    key: ctx.key,
    size,
    etag: `"${ctx.body.md5Hex()}"`,
    lastModified: ctx.now,
    contentType: header(ctx, "content-type") ?? "binary/octet-stream",
    metadata: userMetadata(ctx),
  };
  if (ctx.body.checksum !== undefined) meta.checksum = ctx.body.checksum;
  await ctx.state.withLock(lockName(ctx.bucket, ctx.key), async () => {
    checkWriteConditions(ctx, bucket.objects.get(ctx.key));
    await ctx.state.putObject(bucket, meta, chunks);
  });
  const headers: Record<string, string> = { etag: meta.etag };
  if (meta.checksum) headers[checksumHeaderName(meta.checksum.algorithm)] = meta.checksum.value;
  return { status: 200, headers };
}

/** A parsed Range header: `[start, end)`, or `undefined` to send the whole object. */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(value);
  if (!m) return undefined; // syntactically invalid (or several ranges): ignored, as HTTP says
  const [, a, b] = m as unknown as [string, string, string];
  if (a === "" && b === "") return undefined;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) throw errors.invalidRange(size);
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  if (b !== "" && Number(b) < start) return undefined;
  if (start >= size) throw errors.invalidRange(size);
  const end = b === "" ? size : Math.min(Number(b) + 1, size);
  return { start, end };
}

/** GetObject's and HeadObject's preconditions; returns 304 when the client's copy is current. */
function checkReadConditions(ctx: HandlerContext, meta: ObjectMeta): S3Response | undefined {
  const ifMatch = header(ctx, "if-match");
  if (ifMatch !== undefined && !etagMatches(ifMatch, meta.etag)) throw errors.preconditionFailed("If-Match");
  const ifUnmodified = header(ctx, "if-unmodified-since");
  if (ifMatch === undefined && ifUnmodified !== undefined) {
    const t = Date.parse(ifUnmodified);
    if (!Number.isNaN(t) && Math.floor(meta.lastModified / 1000) * 1000 > t) {
      throw errors.preconditionFailed("If-Unmodified-Since");
    }
  }
  const notModified = {
    status: 304,
    headers: { etag: meta.etag, "last-modified": new Date(meta.lastModified).toUTCString() },
  };
  const ifNoneMatch = header(ctx, "if-none-match");
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, meta.etag)) return notModified;
  const ifModified = header(ctx, "if-modified-since");
  if (ifNoneMatch === undefined && ifModified !== undefined) {
    const t = Date.parse(ifModified);
    if (!Number.isNaN(t) && Math.floor(meta.lastModified / 1000) * 1000 <= t) return notModified;
  }
  return undefined;
}

const RESPONSE_OVERRIDES: Array<[string, string]> = [
  ["response-content-type", "content-type"],
  ["response-content-disposition", "content-disposition"],
  ["response-content-encoding", "content-encoding"],
  ["response-content-language", "content-language"],
  ["response-cache-control", "cache-control"],
  ["response-expires", "expires"],
];

export async function getObject(ctx: HandlerContext, headOnly: boolean): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  return ctx.state.withLock(lockName(ctx.bucket, ctx.key), async () => {
    const meta = bucket.objects.get(ctx.key);
    if (meta === undefined) throw errors.noSuchKey(ctx.key);
    const notModified = checkReadConditions(ctx, meta);
    if (notModified) return notModified;
    const headers = objectHeaders(meta);
    for (const [param, name] of RESPONSE_OVERRIDES) {
      const v = ctx.query.get(param);
      if (v !== undefined) headers[name] = v;
    }
    const range = parseRange(header(ctx, "range"), meta.size);
    const whole = range === undefined;
    const { start, end } = range ?? { start: 0, end: meta.size };
    if (!whole) headers["content-range"] = `bytes ${start}-${end - 1}/${meta.size}`;
    if (whole && meta.checksum && header(ctx, "x-amz-checksum-mode")?.toUpperCase() === "ENABLED") {
      headers[checksumHeaderName(meta.checksum.algorithm)] = meta.checksum.value;
      headers["x-amz-checksum-type"] = "FULL_OBJECT";
    }
    const status = whole ? 200 : 206;
    if (headOnly) {
      headers["content-length"] = String(end - start);
      return { status, headers };
    }
    const body = end > start ? await ctx.state.readObject(bucket, ctx.key, start, end) : Buffer.alloc(0);
    return { status, headers, body };
  });
}

export async function deleteObject(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  await ctx.state.withLock(lockName(ctx.bucket, ctx.key), () => ctx.state.deleteObject(bucket, ctx.key));
  return { status: 204 };
}

/** Delete one key of a DeleteObjects request (its own lock, like a DeleteObject). */
export async function deleteKey(ctx: HandlerContext, key: string): Promise<void> {
  const bucket = requireBucket(ctx);
  await ctx.state.withLock(lockName(ctx.bucket, key), () => ctx.state.deleteObject(bucket, key));
}

function parseCopySource(value: string): { bucket: string; key: string } {
  let source = value;
  const q = source.indexOf("?");
  if (q >= 0) {
    const version = source.slice(q + 1);
    if (!/^versionId=(null)?$/.test(version))
      throw errors.notImplemented("x-amz-copy-source with a versionId");
    source = source.slice(0, q);
  }
  source = decodeComponent(source);
  if (source.startsWith("/")) source = source.slice(1);
  const slash = source.indexOf("/");
  if (slash <= 0 || slash === source.length - 1) {
    throw errors.invalidArgument(
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
      "x-amz-copy-source",
      value,
    );
  }
  return { bucket: source.slice(0, slash), key: source.slice(slash + 1) };
}

export async function copyObject(ctx: HandlerContext): Promise<S3Response> {
  const target = requireBucket(ctx);
  const src = parseCopySource(header(ctx, "x-amz-copy-source") as string);
  const sourceBucket = ctx.state.buckets.get(src.bucket);
  if (sourceBucket === undefined) throw errors.noSuchBucket(src.bucket);
  const directive = (header(ctx, "x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw errors.invalidArgument("Unknown metadata directive.", "x-amz-metadata-directive", directive);
  }
  const { meta: source, data } = await ctx.state.withLock(lockName(src.bucket, src.key), async () => {
    const meta = sourceBucket.objects.get(src.key);
    if (meta === undefined) throw errors.noSuchKey(src.key);
    const ifMatch = header(ctx, "x-amz-copy-source-if-match");
    if (ifMatch !== undefined && !etagMatches(ifMatch, meta.etag))
      throw errors.preconditionFailed("x-amz-copy-source-If-Match");
    const ifNoneMatch = header(ctx, "x-amz-copy-source-if-none-match");
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, meta.etag)) {
      throw errors.preconditionFailed("x-amz-copy-source-If-None-Match");
    }
    return { meta, data: await ctx.state.readObject(sourceBucket, src.key, 0, meta.size) };
  });
  if (src.bucket === ctx.bucket && src.key === ctx.key && directive === "COPY") {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
    );
  }
  const meta: ObjectMeta = {
    key: ctx.key,
    size: source.size,
    etag: source.etag.includes("-") ? `"${md5Hex(data)}"` : source.etag,
    lastModified: ctx.now,
    contentType:
      directive === "REPLACE" ? (header(ctx, "content-type") ?? "binary/octet-stream") : source.contentType,
    metadata: directive === "REPLACE" ? userMetadata(ctx) : { ...source.metadata },
  };
  if (source.checksum && !source.etag.includes("-")) meta.checksum = source.checksum;
  await ctx.state.withLock(lockName(ctx.bucket, ctx.key), async () => {
    checkWriteConditions(ctx, target.objects.get(ctx.key));
    await ctx.state.putObject(target, meta, data);
  });
  return xml(
    200,
    renderXml([
      "CopyObjectResult",
      [
        ["LastModified", isoDate(meta.lastModified)],
        ["ETag", meta.etag],
      ],
    ]),
  );
}
