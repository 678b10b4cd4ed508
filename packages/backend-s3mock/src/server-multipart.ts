import { createHash, randomBytes } from "node:crypto";
import { checksumHeaderName } from "./server-checksum.ts";
import {
  checkWriteConditions,
  type HandlerContext,
  header,
  isoDate,
  OWNER,
  parseIntParam,
  requireBucket,
  type S3Response,
  sameEtag,
  userMetadata,
  xml,
} from "./server-context.ts";
import { errors } from "./server-errors.ts";
import type { UploadState } from "./server-state.ts";
import type { ObjectMeta, PartMeta } from "./server-storage.ts";
import { childrenNamed, childText, parseXml, renderXml, type XmlNode, XmlSyntaxError } from "./server-xml.ts";

/** CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads. */

export const MAX_PARTS = 10_000;

function requireUpload(ctx: HandlerContext): UploadState {
  const bucket = requireBucket(ctx);
  const uploadId = ctx.query.get("uploadId") ?? "";
  const upload = bucket.uploads.get(uploadId);
  if (upload === undefined || upload.upload.key !== ctx.key) throw errors.noSuchUpload(uploadId);
  return upload;
}

export async function createMultipartUpload(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const uploadId = randomBytes(24).toString("base64url");
  await ctx.state.createUpload(bucket, {
    uploadId,
    key: ctx.key,
    initiated: ctx.now,
    contentType: header(ctx, "content-type") ?? "binary/octet-stream",
    metadata: userMetadata(ctx),
  });
  return xml(
    200,
    renderXml([
      "InitiateMultipartUploadResult",
      [
        ["Bucket", ctx.bucket],
        ["Key", ctx.key],
        ["UploadId", uploadId],
      ],
    ]),
  );
}

export async function uploadPart(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const partNumber = Number(ctx.query.get("partNumber"));
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw errors.invalidArgument(
      `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`,
      "partNumber",
      ctx.query.get("partNumber"),
    );
  }
  const upload = requireUpload(ctx);
  const data = ctx.body.data;
  const part: PartMeta = {
    partNumber,
    etag: `"${ctx.body.md5Hex()}"`,
    size: data.length,
    lastModified: ctx.now,
  };
  await ctx.state.putPart(bucket, upload, part, data);
  const headers: Record<string, string> = { etag: part.etag };
  if (ctx.body.checksum) headers[checksumHeaderName(ctx.body.checksum.algorithm)] = ctx.body.checksum.value;
  return { status: 200, headers };
}

function parseCompleteBody(ctx: HandlerContext): Array<{ partNumber: number; etag: string }> {
  let parts: Array<{ partNumber: number; etag: string }>;
  try {
    const root = parseXml(ctx.body.data.toString("utf8"));
    if (root.name !== "CompleteMultipartUpload") throw new XmlSyntaxError("wrong root");
    parts = childrenNamed(root, "Part").map((p) => {
      const n = childText(p, "PartNumber");
      const etag = childText(p, "ETag");
      if (n === undefined || etag === undefined || !/^\d{1,5}$/.test(n.trim()))
        throw new XmlSyntaxError("bad part");
      return { partNumber: Number(n.trim()), etag: etag.trim() };
    });
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw errors.malformedXml();
    throw err;
  }
  if (parts.length === 0 || parts.length > MAX_PARTS) throw errors.malformedXml();
  return parts;
}

export async function completeMultipartUpload(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const requested = parseCompleteBody(ctx);
  return ctx.state.withLock(`key\0${ctx.bucket}\0${ctx.key}`, async () => {
    const upload = requireUpload(ctx);
    for (let i = 1; i < requested.length; i++) {
      if (
        (requested[i] as { partNumber: number }).partNumber <=
        (requested[i - 1] as { partNumber: number }).partNumber
      ) {
        throw errors.invalidPartOrder();
      }
    }
    const chosen: PartMeta[] = [];
    for (const [i, want] of requested.entries()) {
      const part = upload.parts.get(want.partNumber);
      if (part === undefined || !sameEtag(part.etag, want.etag)) throw errors.invalidPart(want.partNumber);
      if (i < requested.length - 1 && part.size < ctx.minPartSize) {
        throw errors.entityTooSmall(want.partNumber, ctx.minPartSize);
      }
      chosen.push(part);
    }
    const total = chosen.reduce((sum, p) => sum + p.size, 0);
    if (total > ctx.maxMultipartBytes) throw errors.entityTooLarge(ctx.maxMultipartBytes);
    checkWriteConditions(ctx, bucket.objects.get(ctx.key));
    const uploadId = upload.upload.uploadId;
    const buffers: Buffer[] = [];
    const md5s = createHash("md5");
    for (const part of chosen) {
      buffers.push(await ctx.state.readPart(bucket, uploadId, part.partNumber));
      md5s.update(Buffer.from(part.etag.replaceAll('"', ""), "hex"));
    }
    const data = Buffer.concat(buffers);
    const meta: ObjectMeta = {
      key: ctx.key,
      size: data.length,
      etag: `"${md5s.digest("hex")}-${chosen.length}"`,
      lastModified: ctx.now,
      contentType: upload.upload.contentType,
      metadata: upload.upload.metadata,
    };
    await ctx.state.putObject(bucket, meta, data);
    await ctx.state.deleteUpload(bucket, uploadId);
    return xml(
      200,
      renderXml([
        "CompleteMultipartUploadResult",
        [
          ["Location", `/${ctx.bucket}/${ctx.key}`],
          ["Bucket", ctx.bucket],
          ["Key", ctx.key],
          ["ETag", meta.etag],
        ],
      ]),
    );
  });
}

export async function abortMultipartUpload(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const upload = requireUpload(ctx);
  await ctx.state.deleteUpload(bucket, upload.upload.uploadId);
  return { status: 204 };
}

export async function listParts(ctx: HandlerContext): Promise<S3Response> {
  const upload = requireUpload(ctx);
  const maxParts = parseIntParam(ctx.query, "max-parts", 1000, 0, 1000);
  const marker = parseIntParam(ctx.query, "part-number-marker", 0, 0, MAX_PARTS);
  const all = [...upload.parts.values()]
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  const last = page[page.length - 1];
  const children: Array<XmlNode | undefined> = [
    ["Bucket", ctx.bucket],
    ["Key", ctx.key],
    ["UploadId", upload.upload.uploadId],
    ["PartNumberMarker", marker],
    truncated && last ? ["NextPartNumberMarker", last.partNumber] : undefined,
    ["MaxParts", maxParts],
    ["IsTruncated", truncated],
    [
      "Initiator",
      [
        ["ID", OWNER.ID],
        ["DisplayName", OWNER.DisplayName],
      ],
    ],
    [
      "Owner",
      [
        ["ID", OWNER.ID],
        ["DisplayName", OWNER.DisplayName],
      ],
    ],
    ["StorageClass", "STANDARD"],
  ];
  for (const p of page) {
    children.push([
      "Part",
      [
        ["PartNumber", p.partNumber],
        ["LastModified", isoDate(p.lastModified)],
        ["ETag", p.etag],
        ["Size", p.size],
      ],
    ]);
  }
  return xml(200, renderXml(["ListPartsResult", children]));
}

export async function listMultipartUploads(ctx: HandlerContext): Promise<S3Response> {
  const bucket = requireBucket(ctx);
  const prefix = ctx.query.get("prefix") ?? "";
  const maxUploads = parseIntParam(ctx.query, "max-uploads", 1000, 0, 1000);
  const keyMarker = ctx.query.get("key-marker") ?? "";
  const idMarker = ctx.query.get("upload-id-marker") ?? "";
  const all = [...bucket.uploads.values()]
    .map((u) => u.upload)
    .filter((u) => u.key.startsWith(prefix))
    .filter(
      (u) =>
        keyMarker === "" ||
        u.key > keyMarker ||
        (u.key === keyMarker && idMarker !== "" && u.uploadId > idMarker),
    )
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.uploadId < b.uploadId ? -1 : 1));
  const page = all.slice(0, maxUploads);
  const truncated = all.length > page.length;
  const last = page[page.length - 1];
  const children: Array<XmlNode | undefined> = [
    ["Bucket", ctx.bucket],
    ["KeyMarker", keyMarker],
    ["UploadIdMarker", idMarker],
    truncated && last ? ["NextKeyMarker", last.key] : undefined,
    truncated && last ? ["NextUploadIdMarker", last.uploadId] : undefined,
    ["Prefix", prefix],
    ["MaxUploads", maxUploads],
    ["IsTruncated", truncated],
  ];
  for (const u of page) {
    children.push([
      "Upload",
      [
        ["Key", u.key],
        ["UploadId", u.uploadId],
        [
          "Initiator",
          [
            ["ID", OWNER.ID],
            ["DisplayName", OWNER.DisplayName],
          ],
        ],
        [
          "Owner",
          [
            ["ID", OWNER.ID],
            ["DisplayName", OWNER.DisplayName],
          ],
        ],
        ["StorageClass", "STANDARD"],
        ["Initiated", isoDate(u.initiated)],
      ],
    ]);
  }
  return xml(200, renderXml(["ListMultipartUploadsResult", children]));
}
