import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fixture, startFixture } from "./__fixtures__/s3-fixture.ts";

const MiB = 1024 * 1024;

function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

async function s3Code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name;
    throw err;
  }
  throw new Error("expected the request to fail");
}

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
  await fx.client.send(new CreateBucketCommand({ Bucket: "test" }));
});
afterAll(() => fx.close());

describe("buckets", () => {
  it("creates, heads, lists and deletes buckets", async () => {
    await fx.client.send(new CreateBucketCommand({ Bucket: "other-bucket" }));
    expect(await s3Code(fx.client.send(new CreateBucketCommand({ Bucket: "other-bucket" })))).toBe(
      "BucketAlreadyOwnedByYou",
    );
    await fx.client.send(new HeadBucketCommand({ Bucket: "other-bucket" }));
    const list = await fx.client.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toEqual(["other-bucket", "test"]);
    await fx.client.send(new PutObjectCommand({ Bucket: "other-bucket", Key: "x", Body: "x" }));
    expect(await s3Code(fx.client.send(new DeleteBucketCommand({ Bucket: "other-bucket" })))).toBe(
      "BucketNotEmpty",
    );
    await fx.client.send(new DeleteObjectCommand({ Bucket: "other-bucket", Key: "x" }));
    await fx.client.send(new DeleteBucketCommand({ Bucket: "other-bucket" }));
    expect(await s3Code(fx.client.send(new HeadBucketCommand({ Bucket: "other-bucket" })))).toBe("NotFound");
    expect(await s3Code(fx.client.send(new GetObjectCommand({ Bucket: "other-bucket", Key: "x" })))).toBe(
      "NoSuchBucket",
    );
  });

  it("refuses invalid bucket names", async () => {
    expect(await s3Code(fx.client.send(new CreateBucketCommand({ Bucket: "Bad_Name" })))).toBe(
      "InvalidBucketName",
    );
  });
});

describe("objects", () => {
  it("puts, gets, heads and deletes an object with S3's ETag", async () => {
    const body = Buffer.from("hello, s3");
    const put = await fx.client.send(
      new PutObjectCommand({
        Bucket: "test",
        Key: "dir/hello.txt",
        Body: body,
        ContentType: "text/plain",
        Metadata: { who: "vkc" },
      }),
    );
    expect(put.ETag).toBe(`"${md5(body)}"`);
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "dir/hello.txt" }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.ContentType).toBe("text/plain");
    expect(got.Metadata).toEqual({ who: "vkc" });
    const head = await fx.client.send(new HeadObjectCommand({ Bucket: "test", Key: "dir/hello.txt" }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(put.ETag);
    await fx.client.send(new DeleteObjectCommand({ Bucket: "test", Key: "dir/hello.txt" }));
    expect(await s3Code(fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "dir/hello.txt" })))).toBe(
      "NoSuchKey",
    );
    expect(
      await s3Code(fx.client.send(new HeadObjectCommand({ Bucket: "test", Key: "dir/hello.txt" }))),
    ).toBe("NotFound");
    await fx.client.send(new DeleteObjectCommand({ Bucket: "test", Key: "dir/hello.txt" }));
  });

  it("keeps keys with unusual characters", async () => {
    const key = "weird/ key+with=odd&chars%20~!$'()*,;:@ü/é.bin";
    await fx.client.send(new PutObjectCommand({ Bucket: "test", Key: key, Body: "w" }));
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: key }));
    expect(await got.Body!.transformToString()).toBe("w");
    const list = await fx.client.send(new ListObjectsV2Command({ Bucket: "test", Prefix: "weird/" }));
    expect(list.Contents?.map((c) => c.Key)).toEqual([key]);
    await fx.client.send(new DeleteObjectCommand({ Bucket: "test", Key: key }));
  });

  it("serves byte ranges with 206 and Content-Range, and 416 when unsatisfiable", async () => {
    const body = Buffer.from("0123456789");
    await fx.client.send(new PutObjectCommand({ Bucket: "test", Key: "range", Body: body }));
    const get = async (range: string) => {
      const r = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "range", Range: range }));
      return { text: await r.Body!.transformToString(), contentRange: r.ContentRange };
    };
    expect(await get("bytes=2-4")).toEqual({ text: "234", contentRange: "bytes 2-4/10" });
    expect(await get("bytes=7-")).toEqual({ text: "789", contentRange: "bytes 7-9/10" });
    expect(await get("bytes=-3")).toEqual({ text: "789", contentRange: "bytes 7-9/10" });
    expect(await get("bytes=8-100")).toEqual({ text: "89", contentRange: "bytes 8-9/10" });
    expect(await get("bytes=-100")).toEqual({ text: "0123456789", contentRange: "bytes 0-9/10" });
    expect(
      await s3Code(
        fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "range", Range: "bytes=10-" })),
      ),
    ).toBe("InvalidRange");
  });

  it("honours If-None-Match: * and If-Match on writes", async () => {
    await fx.client.send(
      new PutObjectCommand({ Bucket: "test", Key: "cond", Body: "one", IfNoneMatch: "*" }),
    );
    expect(
      await s3Code(
        fx.client.send(new PutObjectCommand({ Bucket: "test", Key: "cond", Body: "two", IfNoneMatch: "*" })),
      ),
    ).toBe("PreconditionFailed");
    const etag = `"${md5(Buffer.from("one"))}"`;
    expect(
      await s3Code(
        fx.client.send(new PutObjectCommand({ Bucket: "test", Key: "cond", Body: "x", IfMatch: '"0000"' })),
      ),
    ).toBe("PreconditionFailed");
    await fx.client.send(new PutObjectCommand({ Bucket: "test", Key: "cond", Body: "three", IfMatch: etag }));
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "cond" }));
    expect(await got.Body!.transformToString()).toBe("three");
  });

  it("lets exactly one of many racing If-None-Match writers win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        fx.client.send(
          new PutObjectCommand({ Bucket: "test", Key: "race", Body: `w${i}`, IfNoneMatch: "*" }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("copies objects, keeping or replacing metadata", async () => {
    await fx.client.send(
      new PutObjectCommand({ Bucket: "test", Key: "src", Body: "copy me", Metadata: { a: "1" } }),
    );
    const copied = await fx.client.send(
      new CopyObjectCommand({ Bucket: "test", Key: "dst", CopySource: "test/src" }),
    );
    expect(copied.CopyObjectResult?.ETag).toBe(`"${md5(Buffer.from("copy me"))}"`);
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "dst" }));
    expect(await got.Body!.transformToString()).toBe("copy me");
    expect(got.Metadata).toEqual({ a: "1" });
    await fx.client.send(
      new CopyObjectCommand({
        Bucket: "test",
        Key: "src",
        CopySource: "/test/src",
        MetadataDirective: "REPLACE",
        Metadata: { b: "2" },
      }),
    );
    expect((await fx.client.send(new HeadObjectCommand({ Bucket: "test", Key: "src" }))).Metadata).toEqual({
      b: "2",
    });
    expect(
      await s3Code(
        fx.client.send(new CopyObjectCommand({ Bucket: "test", Key: "d", CopySource: "test/missing" })),
      ),
    ).toBe("NoSuchKey");
  });

  it("deletes many objects with DeleteObjects", async () => {
    for (const k of ["del/a", "del/b", "del/c"])
      await fx.client.send(new PutObjectCommand({ Bucket: "test", Key: k, Body: k }));
    const res = await fx.client.send(
      new DeleteObjectsCommand({
        Bucket: "test",
        Delete: { Objects: [{ Key: "del/a" }, { Key: "del/b" }, { Key: "del/zz" }] },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(["del/a", "del/b", "del/zz"]);
    const list = await fx.client.send(new ListObjectsV2Command({ Bucket: "test", Prefix: "del/" }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(["del/c"]);
  });
});

describe("ListObjectsV2", () => {
  beforeAll(async () => {
    await fx.client.send(new CreateBucketCommand({ Bucket: "listing" }));
    const keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y", "e"];
    for (const k of keys) await fx.client.send(new PutObjectCommand({ Bucket: "listing", Key: k, Body: k }));
  });

  it("lists with prefix, delimiter and CommonPrefixes", async () => {
    const top = await fx.client.send(new ListObjectsV2Command({ Bucket: "listing", Delimiter: "/" }));
    expect(top.Contents?.map((c) => c.Key)).toEqual(["c", "e"]);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "b/", "d/"]);
    expect(top.KeyCount).toBe(5);
    expect(top.IsTruncated).toBe(false);
    const a = await fx.client.send(
      new ListObjectsV2Command({ Bucket: "listing", Prefix: "a/", Delimiter: "/" }),
    );
    expect(a.Contents?.map((c) => c.Key)).toEqual(["a/1", "a/2"]);
    expect(a.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/b/"]);
  });

  it("pages with max-keys and continuation tokens, with and without a delimiter", async () => {
    for (const delimiter of [undefined, "/"]) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await fx.client.send(
          new ListObjectsV2Command({
            Bucket: "listing",
            MaxKeys: 2,
            ContinuationToken: token,
            Delimiter: delimiter,
          }),
        );
        pages++;
        expect(page.KeyCount).toBeLessThanOrEqual(2);
        seen.push(
          ...(page.Contents ?? []).map((c) => c.Key!),
          ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        );
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (delimiter === undefined) {
        expect(seen).toEqual(["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y", "e"]);
        expect(pages).toBe(4);
      } else expect(seen.sort()).toEqual(["a/", "b/", "c", "d/", "e"]);
    }
  });

  it("starts after a key", async () => {
    const r = await fx.client.send(new ListObjectsV2Command({ Bucket: "listing", StartAfter: "b/1" }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(["c", "d/x/y", "e"]);
  });

  it("refuses a forged continuation token", async () => {
    expect(
      await s3Code(
        fx.client.send(new ListObjectsV2Command({ Bucket: "listing", ContinuationToken: "garbage!" })),
      ),
    ).toBe("InvalidArgument");
  });
});

describe("multipart uploads", () => {
  it("uploads, lists parts and uploads, and completes with S3's multipart ETag", async () => {
    const { UploadId } = await fx.client.send(
      new CreateMultipartUploadCommand({ Bucket: "test", Key: "big" }),
    );
    const part1 = Buffer.alloc(5 * MiB, 1);
    const part2 = Buffer.from("tail");
    const p1 = await fx.client.send(
      new UploadPartCommand({ Bucket: "test", Key: "big", UploadId, PartNumber: 1, Body: part1 }),
    );
    const p2 = await fx.client.send(
      new UploadPartCommand({ Bucket: "test", Key: "big", UploadId, PartNumber: 2, Body: part2 }),
    );
    const parts = await fx.client.send(new ListPartsCommand({ Bucket: "test", Key: "big", UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, part1.length],
      [2, 4],
    ]);
    const uploads = await fx.client.send(new ListMultipartUploadsCommand({ Bucket: "test" }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId);

    expect(
      await s3Code(
        fx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: "test",
            Key: "big",
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"deadbeef"' }] },
          }),
        ),
      ),
    ).toBe("InvalidPart");
    expect(
      await s3Code(
        fx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: "test",
            Key: "big",
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 2, ETag: p2.ETag },
                { PartNumber: 1, ETag: p1.ETag },
              ],
            },
          }),
        ),
      ),
    ).toBe("InvalidPartOrder");

    const done = await fx.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "test",
        Key: "big",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    const expected = createHash("md5")
      .update(Buffer.concat([Buffer.from(md5(part1), "hex"), Buffer.from(md5(part2), "hex")]))
      .digest("hex");
    expect(done.ETag).toBe(`"${expected}-2"`);
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "test", Key: "big" }));
    const bytes = await got.Body!.transformToByteArray();
    expect(Buffer.from(bytes).equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(await s3Code(fx.client.send(new ListPartsCommand({ Bucket: "test", Key: "big", UploadId })))).toBe(
      "NoSuchUpload",
    );
  });

  it("refuses non-last parts under 5 MiB with EntityTooSmall", async () => {
    const { UploadId } = await fx.client.send(
      new CreateMultipartUploadCommand({ Bucket: "test", Key: "small" }),
    );
    const p1 = await fx.client.send(
      new UploadPartCommand({ Bucket: "test", Key: "small", UploadId, PartNumber: 1, Body: "a" }),
    );
    const p2 = await fx.client.send(
      new UploadPartCommand({ Bucket: "test", Key: "small", UploadId, PartNumber: 2, Body: "b" }),
    );
    expect(
      await s3Code(
        fx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: "test",
            Key: "small",
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.ETag },
                { PartNumber: 2, ETag: p2.ETag },
              ],
            },
          }),
        ),
      ),
    ).toBe("EntityTooSmall");
    await fx.client.send(new AbortMultipartUploadCommand({ Bucket: "test", Key: "small", UploadId }));
    expect(
      await s3Code(
        fx.client.send(new AbortMultipartUploadCommand({ Bucket: "test", Key: "small", UploadId })),
      ),
    ).toBe("NoSuchUpload");
  });

  it("completes with If-None-Match: * only when the key is absent", async () => {
    await fx.client.send(new PutObjectCommand({ Bucket: "test", Key: "mp-cond", Body: "exists" }));
    const { UploadId } = await fx.client.send(
      new CreateMultipartUploadCommand({ Bucket: "test", Key: "mp-cond" }),
    );
    const p1 = await fx.client.send(
      new UploadPartCommand({ Bucket: "test", Key: "mp-cond", UploadId, PartNumber: 1, Body: "a" }),
    );
    expect(
      await s3Code(
        fx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: "test",
            Key: "mp-cond",
            UploadId,
            IfNoneMatch: "*",
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] },
          }),
        ),
      ),
    ).toBe("PreconditionFailed");
  });
});
