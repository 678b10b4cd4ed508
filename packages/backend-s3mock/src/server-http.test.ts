import { Readable } from "node:stream";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CREDS,
  errorCode,
  type Fixture,
  newClient,
  presignedPath,
  rawRequest,
  signedRequest,
  startFixture,
} from "./__fixtures__/s3-fixture.ts";

/** Raw HTTP: authentication failures, presigned URLs, virtual hosts, bodies and S3's XML errors. */

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({
    limits: { maxObjectBytes: 64 * 1024, maxXmlBytes: 16 * 1024, minPartSize: 1, maxMultipartBytes: 100 },
  });
  await fx.server.createBucket("raw");
  await fx.client.send(new PutObjectCommand({ Bucket: "raw", Key: "ten", Body: "0123456789" }));
});
afterAll(() => fx.close());

async function sdkError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name;
    throw err;
  }
  return "none";
}

describe("authentication", () => {
  it("refuses an anonymous request with AccessDenied", async () => {
    const res = await rawRequest(fx.server.url, { path: "/raw/ten" });
    expect(res.status).toBe(403);
    expect(errorCode(res.body)).toBe("AccessDenied");
    expect(res.body).toContain("<Resource>/raw/ten</Resource>");
    const unsupported = await rawRequest(fx.server.url, { path: "/raw/ten?tagging" });
    expect(errorCode(unsupported.body)).toBe("AccessDenied");
  });

  it("refuses a wrong secret with SignatureDoesNotMatch and an unknown key with InvalidAccessKeyId", async () => {
    const wrongSecret = newClient(fx.server.url, {
      credentials: { ...CREDS, secretAccessKey: "not-the-secret" },
    });
    const unknownKey = newClient(fx.server.url, { credentials: { ...CREDS, accessKeyId: "AKIDNOBODY" } });
    expect(await sdkError(wrongSecret.send(new GetObjectCommand({ Bucket: "raw", Key: "ten" })))).toBe(
      "SignatureDoesNotMatch",
    );
    expect(await sdkError(unknownKey.send(new GetObjectCommand({ Bucket: "raw", Key: "ten" })))).toBe(
      "InvalidAccessKeyId",
    );
    wrongSecret.destroy();
    unknownKey.destroy();
  });

  it("refuses a tampered signed request", async () => {
    const res = await signedRequest(fx, { path: "/raw/ten", headers: { "x-amz-meta-a": "1" } });
    expect(res.status).toBe(200);
    const path = (await presignedPath(fx, { path: "/raw/ten", expiresIn: 60 })).replace(
      "/raw/ten",
      "/raw/other",
    );
    const tampered = await rawRequest(fx.server.url, { path });
    expect(errorCode(tampered.body)).toBe("SignatureDoesNotMatch");
  });
});

describe("presigned URLs", () => {
  it("serve GET and PUT within their lifetime", async () => {
    const put = await rawRequest(fx.server.url, {
      method: "PUT",
      path: await presignedPath(fx, { method: "PUT", path: "/raw/presigned", expiresIn: 300 }),
      body: "via presigned PUT",
    });
    expect(put.status).toBe(200);
    const get = await rawRequest(fx.server.url, {
      path: await presignedPath(fx, { path: "/raw/presigned", expiresIn: 300 }),
    });
    expect(get.status).toBe(200);
    expect(get.body).toBe("via presigned PUT");
  });

  it("are refused with AccessDenied once expired", async () => {
    const path = await presignedPath(fx, {
      path: "/raw/ten",
      expiresIn: 60,
      signingDate: new Date(Date.now() - 3600_000),
    });
    const res = await rawRequest(fx.server.url, { path });
    expect(res.status).toBe(403);
    expect(errorCode(res.body)).toBe("AccessDenied");
    expect(res.body).toContain("Request has expired");
  });
});

describe("addressing", () => {
  it("serves virtual-host-style requests (bucket.localhost)", async () => {
    const host = `raw.localhost:${fx.server.port}`;
    const res = await signedRequest(fx, { path: "/ten", host });
    expect(res.status).toBe(200);
    expect(res.body).toBe("0123456789");
    const list = await signedRequest(fx, { path: "/", host, query: { "list-type": "2" } });
    expect(list.body).toContain("<Key>ten</Key>");
  });

  it("answers unknown sub-resources with NotImplemented and odd methods with MethodNotAllowed", async () => {
    const res = await signedRequest(fx, { path: "/raw/ten", query: { tagging: "" } });
    expect(res.status).toBe(501);
    expect(errorCode(res.body)).toBe("NotImplemented");
    const post = await signedRequest(fx, { method: "POST", path: "/raw/ten" });
    expect(errorCode(post.body)).toBe("MethodNotAllowed");
  });

  it("lists with ListObjects (v1) and reports the bucket location", async () => {
    const v1 = await signedRequest(fx, { path: "/raw", query: { prefix: "t" } });
    expect(v1.body).toContain("<Key>ten</Key>");
    expect(v1.body).toContain("<Marker></Marker>");
    const loc = await signedRequest(fx, { path: "/raw", query: { location: "" } });
    expect(loc.body).toContain("<LocationConstraint");
  });
});

describe("ranges", () => {
  it("answers an unsatisfiable range with 416 InvalidRange and Content-Range */size", async () => {
    const res = await signedRequest(fx, { path: "/raw/ten", headers: { range: "bytes=20-30" } });
    expect(res.status).toBe(416);
    expect(errorCode(res.body)).toBe("InvalidRange");
    expect(res.headers["content-range"]).toBe("bytes */10");
  });

  it("ignores a syntactically invalid range and sends the whole object", async () => {
    const res = await signedRequest(fx, { path: "/raw/ten", headers: { range: "bytes=5-2" } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("0123456789");
    const multi = await signedRequest(fx, { path: "/raw/ten", headers: { range: "bytes=0-1,4-5" } });
    expect(multi.status).toBe(200);
  });
});

describe("request bodies", () => {
  it("refuses malformed XML, DTDs and entity tricks with MalformedXML", async () => {
    for (const body of [
      "<Delete><Object><Key>a</Key></Object>",
      "not xml at all",
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key></Object></Delete>',
      "<Delete><Object><Key>&unknown;</Key></Object></Delete>",
      "<Delete></Delete>",
      `<Delete>${"<Object><Key>k</Key></Object>".repeat(1001)}</Delete>`.slice(0, 15_000),
    ]) {
      const res = await signedRequest(fx, { method: "POST", path: "/raw", query: { delete: "" }, body });
      expect(res.status, body.slice(0, 60)).toBe(400);
      expect(errorCode(res.body)).toBe("MalformedXML");
    }
  });

  it("refuses a Complete body that is not a part list with MalformedXML", async () => {
    const res = await signedRequest(fx, {
      method: "POST",
      path: "/raw/k",
      query: { uploadId: "nope" },
      body: "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
    });
    expect(errorCode(res.body)).toBe("MalformedXML");
  });

  it("refuses bodies over the limit with EntityTooLarge, XML included", async () => {
    const big = await signedRequest(fx, {
      method: "PUT",
      path: "/raw/big",
      body: Buffer.alloc(64 * 1024 + 1),
    });
    expect(errorCode(big.body)).toBe("EntityTooLarge");
    const xml = await signedRequest(fx, {
      method: "POST",
      path: "/raw",
      query: { delete: "" },
      body: Buffer.alloc(17 * 1024, 32),
    });
    expect(errorCode(xml.body)).toBe("EntityTooLarge");
  });

  it("refuses to assemble a multipart object over maxMultipartBytes", async () => {
    const { UploadId } = await fx.client.send(new CreateMultipartUploadCommand({ Bucket: "raw", Key: "mp" }));
    const parts = [];
    for (const PartNumber of [1, 2]) {
      const r = await fx.client.send(
        new UploadPartCommand({ Bucket: "raw", Key: "mp", UploadId, PartNumber, Body: Buffer.alloc(60) }),
      );
      parts.push({ PartNumber, ETag: r.ETag });
    }
    const complete = new CompleteMultipartUploadCommand({
      Bucket: "raw",
      Key: "mp",
      UploadId,
      MultipartUpload: { Parts: parts },
    });
    expect(await sdkError(fx.client.send(complete))).toBe("EntityTooLarge");
  });

  it("checks x-amz-content-sha256, Content-MD5 and x-amz-checksum-crc32 against the body", async () => {
    const sha = await signedRequest(fx, {
      method: "PUT",
      path: "/raw/h",
      body: "abc",
      payloadHash: "0".repeat(64),
    });
    expect(errorCode(sha.body)).toBe("XAmzContentSHA256Mismatch");
    const md5 = await signedRequest(fx, {
      method: "PUT",
      path: "/raw/h",
      body: "abc",
      headers: { "content-md5": Buffer.alloc(16).toString("base64") },
    });
    expect(errorCode(md5.body)).toBe("BadDigest");
    const crc = await signedRequest(fx, {
      method: "PUT",
      path: "/raw/h",
      body: "abc",
      headers: { "x-amz-checksum-crc32": "AAAAAA==" },
    });
    expect(errorCode(crc.body)).toBe("BadDigest");
    const good = await signedRequest(fx, {
      method: "PUT",
      path: "/raw/h",
      body: "abc",
      headers: { "x-amz-checksum-crc32": "NSRBwg==", "content-md5": "kAFQmDzST7DWlj99KOF/cg==" },
    });
    expect(good.status).toBe(200);
  });

  it("accepts the SDK's aws-chunked streaming upload with a CRC32 trailer", async () => {
    await fx.client.send(
      new PutObjectCommand({
        Bucket: "raw",
        Key: "streamed",
        Body: Readable.from([Buffer.from("hello, "), Buffer.from("streaming world")]),
        ContentLength: 22,
      }),
    );
    const got = await fx.client.send(new GetObjectCommand({ Bucket: "raw", Key: "streamed" }));
    expect(await got.Body!.transformToString()).toBe("hello, streaming world");
    expect(fx.server.stats.internalErrors).toBe(0);
  });
});
