import {
  type HandlerContext,
  isoDate,
  OWNER,
  parseIntParam,
  requireBucket,
  type S3Response,
  xml,
} from "./server-context.ts";
import { errors } from "./server-errors.ts";
import { deleteKey } from "./server-objects.ts";
import { uriEncode } from "./server-sigv4.ts";
import { type BucketState, compareBytes } from "./server-state.ts";
import type { ObjectMeta } from "./server-storage.ts";
import { childrenNamed, childText, parseXml, renderXml, type XmlNode, XmlSyntaxError } from "./server-xml.ts";

/** ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, ListObjects(V2), DeleteObjects. */

const MAX_DELETE_KEYS = 1000;

export function validBucketName(name: string): boolean {
  return (
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes("..") &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

export async function listBuckets(ctx: HandlerContext): Promise<S3Response> {
  const buckets = [...ctx.state.buckets.values()].sort((a, b) => compareBytes(a.name, b.name));
  return xml(
    200,
    renderXml([
      "ListAllMyBucketsResult",
      [
        [
          "Owner",
          [
            ["ID", OWNER.ID],
            ["DisplayName", OWNER.DisplayName],
          ],
        ],
        [
          "Buckets",
          buckets.map(
            (b): XmlNode => [
              "Bucket",
              [
                ["Name", b.name],
                ["CreationDate", isoDate(b.created)],
              ],
            ],
          ),
        ],
      ],
    ]),
  );
}

export async function createBucket(ctx: HandlerContext): Promise<S3Response> {
  if (!validBucketName(ctx.bucket)) throw errors.invalidBucketName(ctx.bucket);
  if (ctx.body.data.length > 0) {
    try {
      const root = parseXml(ctx.body.data.toString("utf8"));
      if (root.name !== "CreateBucketConfiguration") throw new XmlSyntaxError("wrong root");
    } catch (err) {
      if (err instanceof XmlSyntaxError) throw errors.malformedXml();
      throw err;
    }
  }
  if (!(await ctx.state.createBucket(ctx.bucket, ctx.now))) throw errors.bucketAlreadyOwnedByYou(ctx.bucket);
  return { status: 200, headers: { location: `/${ctx.bucket}` } };
}

export async function headBucket(ctx: HandlerContext): Promise<S3Response> {
  requireBucket(ctx);
  return { status: 200, headers: { "x-amz-bucket-region": ctx.region } };
}

export async function getBucketLocation(ctx: HandlerContext): Promise<S3Response> {
  requireBucket(ctx);
  const region = ctx.region === "us-east-1" ? "" : ctx.region;
  return xml(200, renderXml(["LocationConstraint", region]));
}

export async function deleteBucket(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  if (bucket.objects.size > 0 || bucket.uploads.size > 0) throw errors.bucketNotEmpty(ctx.bucket);
  await ctx.state.deleteBucket(bucket);
  return { status: 204 };
}

/** First index in `keys` whose key is greater than `after` (byte order). */
function firstAfter(keys: string[], after: string, inclusive: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(keys[mid] as string, after);
    if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface ListPage {
  contents: ObjectMeta[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned (where the next page starts). */
  last: { value: string; isPrefix: boolean } | undefined;
}

function listPage(
  ctx: HandlerContext,
  bucket: BucketState,
  opts: { prefix: string; delimiter: string; after: string; skipPrefix: string | undefined; max: number },
): ListPage {
  const keys = ctx.state.sortedKeys(bucket);
  const page: ListPage = { contents: [], commonPrefixes: [], truncated: false, last: undefined };
  const start =
    compareBytes(opts.after, opts.prefix) >= 0
      ? firstAfter(keys, opts.after, false)
      : firstAfter(keys, opts.prefix, true);
  let count = 0;
  for (let i = start; i < keys.length; i++) {
    const key = keys[i] as string;
    if (!key.startsWith(opts.prefix)) {
      if (compareBytes(key, opts.prefix) > 0) break;
      continue;
    }
    if (opts.skipPrefix !== undefined && key.startsWith(opts.skipPrefix)) continue;
    const cut = opts.delimiter === "" ? -1 : key.indexOf(opts.delimiter, opts.prefix.length);
    if (cut >= 0) {
      const common = key.slice(0, cut + opts.delimiter.length);
      if (page.last?.isPrefix && page.last.value === common) continue;
      if (count === opts.max) {
        page.truncated = true;
        break;
      }
      page.commonPrefixes.push(common);
      page.last = { value: common, isPrefix: true };
    } else {
      if (count === opts.max) {
        page.truncated = true;
        break;
      }
      page.contents.push(bucket.objects.get(key) as ObjectMeta);
      page.last = { value: key, isPrefix: false };
    }
    count++;
  }
  return page;
}

function encodeToken(last: { value: string; isPrefix: boolean }): string {
  return Buffer.from(JSON.stringify([last.value, last.isPrefix]), "utf8").toString("base64url");
}

function decodeToken(token: string): { value: string; isPrefix: boolean } {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "boolean")
      return { value: v[0], isPrefix: v[1] };
  } catch {
    // fall through
  }
  throw errors.invalidArgument(
    "The continuation token provided is incorrect",
    "continuation-token",
    token.slice(0, 100),
  );
}

export async function listObjects(ctx: HandlerContext, version: 1 | 2): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const q = ctx.query;
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const max = parseIntParam(q, "max-keys", 1000, 0, 1000);
  const encoding = q.get("encoding-type");
  if (encoding !== undefined && encoding !== "url")
    throw errors.invalidArgument("Invalid Encoding Method specified in Request", "encoding-type", encoding);
  const enc = (s: string) => (encoding === "url" ? uriEncode(s, true) : s);

  let after = "";
  let skipPrefix: string | undefined;
  const token = q.get("continuation-token");
  const startAfter = q.get("start-after");
  const marker = q.get("marker");
  if (version === 2 && token !== undefined) {
    const last = decodeToken(token);
    after = last.value;
    if (last.isPrefix) skipPrefix = last.value;
  } else if (version === 2 && startAfter !== undefined) after = startAfter;
  else if (version === 1 && marker !== undefined) {
    after = marker;
    if (delimiter !== "" && marker.endsWith(delimiter) && marker.startsWith(prefix)) skipPrefix = marker;
  }

  const page = listPage(ctx, bucket, { prefix, delimiter, after, skipPrefix, max });
  const children: Array<XmlNode | undefined> = [
    ["Name", ctx.bucket],
    ["Prefix", enc(prefix)],
  ];
  if (version === 2) {
    if (token !== undefined) children.push(["ContinuationToken", token]);
    if (startAfter !== undefined) children.push(["StartAfter", enc(startAfter)]);
    if (page.truncated && page.last) children.push(["NextContinuationToken", encodeToken(page.last)]);
    children.push(["KeyCount", page.contents.length + page.commonPrefixes.length]);
  } else {
    children.push(["Marker", enc(marker ?? "")]);
    if (page.truncated && page.last && delimiter !== "") children.push(["NextMarker", enc(page.last.value)]);
  }
  children.push(["MaxKeys", max]);
  if (delimiter !== "") children.push(["Delimiter", enc(delimiter)]);
  if (encoding !== undefined) children.push(["EncodingType", encoding]);
  children.push(["IsTruncated", page.truncated]);
  for (const o of page.contents) {
    const entry: XmlNode[] = [
      ["Key", enc(o.key)],
      ["LastModified", isoDate(o.lastModified)],
      ["ETag", o.etag],
      ["Size", o.size],
      ["StorageClass", "STANDARD"],
    ];
    if (version === 1 || q.get("fetch-owner") === "true")
      entry.push([
        "Owner",
        [
          ["ID", OWNER.ID],
          ["DisplayName", OWNER.DisplayName],
        ],
      ]);
    children.push(["Contents", entry]);
  }
  for (const p of page.commonPrefixes) children.push(["CommonPrefixes", [["Prefix", enc(p)]]]);
  return xml(200, renderXml(["ListBucketResult", children]));
}

export async function deleteObjects(ctx: HandlerContext): Promise<S3Response> {
  requireBucket(ctx);
  let keys: string[];
  let quiet: boolean;
  try {
    const root = parseXml(ctx.body.data.toString("utf8"));
    if (root.name !== "Delete") throw new XmlSyntaxError("wrong root");
    quiet = childText(root, "Quiet")?.trim() === "true";
    keys = childrenNamed(root, "Object").map((o) => {
      const key = childText(o, "Key");
      if (key === undefined || key === "") throw new XmlSyntaxError("object without key");
      return key;
    });
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw errors.malformedXml();
    throw err;
  }
  if (keys.length === 0 || keys.length > MAX_DELETE_KEYS) throw errors.malformedXml();
  const results: XmlNode[] = [];
  for (const key of keys) {
    await deleteKey(ctx, key);
    if (!quiet) results.push(["Deleted", [["Key", key]]]);
  }
  return xml(200, renderXml(["DeleteResult", results]));
}
