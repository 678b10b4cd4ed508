import { PutObjectCommand } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  errorCode,
  type Fixture,
  type RawResponse,
  rawRequest,
  signedRequest,
  startFixture,
} from "./__fixtures__/s3-fixture.ts";

/**
 * Fuzzing request parsing: random methods, paths, query strings, headers and bodies, signed
 * and unsigned, must each get a success or an S3 XML error: never a crash, hang or 500.
 */

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture({
    limits: { maxObjectBytes: 256 * 1024, maxXmlBytes: 64 * 1024, minPartSize: 16 },
  });
  await fx.server.createBucket("fuzz");
  await fx.client.send(new PutObjectCommand({ Bucket: "fuzz", Key: "obj", Body: "0123456789" }));
});
afterAll(() => fx.close());

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
const segment = fc.oneof(
  fc.constantFrom("fuzz", "obj", "nobucket", "", "a", "..", "%zz", "%2F", "fuzz.localhost", "X"),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const queryKey = fc.oneof(
  fc.constantFrom(
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "location",
    "marker",
    "max-parts",
    "part-number-marker",
    "encoding-type",
    "tagging",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Expires",
    "X-Amz-Date",
    "X-Amz-Algorithm",
    "x-id",
  ),
  printable,
);
const queryValue = fc.oneof(
  fc.constantFrom("", "2", "0", "-1", "1001", "99999999999", "url", "/", "AWS4-HMAC-SHA256"),
  printable,
);
const headerValue = fc.oneof(
  fc.constantFrom(
    "bytes=0-1",
    "bytes=-5",
    "bytes=5-",
    "bytes=9999-",
    "bytes=abc",
    "*",
    '"x"',
    "UNSIGNED-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "AWS4-HMAC-SHA256 Credential=AKIDVKCTEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    "AWS AKID:sig",
    "fuzz/obj",
    "/fuzz/nothing",
    "aws-chunked",
    "20",
    "-3",
    "AAAAAA==",
  ),
  printable,
);
const headerName = fc.constantFrom(
  "range",
  "x-amz-content-sha256",
  "content-md5",
  "authorization",
  "x-amz-date",
  "x-amz-copy-source",
  "if-none-match",
  "if-match",
  "x-amz-decoded-content-length",
  "content-encoding",
  "x-amz-checksum-crc32",
  "x-amz-checksum-sha256",
  "x-amz-metadata-directive",
  "x-amz-meta-x",
  "content-type",
  "x-amz-checksum-mode",
);
const body = fc.oneof(
  fc.constant(""),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc
    .array(
      fc.constantFrom(
        "<Delete>",
        "</Delete>",
        "<Object>",
        "</Object>",
        "<Key>",
        "</Key>",
        "k",
        "<Part>",
        "</Part>",
        "<PartNumber>1</PartNumber>",
        '<ETag>"x"</ETag>',
        "<CompleteMultipartUpload>",
        "</CompleteMultipartUpload>",
        "&amp;",
        "<!DOCTYPE",
        "<![CDATA[",
        "]]>",
        "0\r\n",
        "5;chunk-signature=00\r\n",
        "\r\n",
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join("")),
);

const request = fc.record({
  method: fc.constantFrom("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"),
  segments: fc.array(segment, { maxLength: 4 }),
  query: fc.dictionary(queryKey, queryValue, { maxKeys: 4 }),
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 4 }),
  body,
  signed: fc.boolean(),
  virtualHost: fc.boolean(),
});

const seen = { ok: 0, refused: 0 };

function check(method: string, res: RawResponse): void {
  if (res.status < 300) seen.ok++;
  else seen.refused++;
  expect(res.status).toBeGreaterThanOrEqual(200);
  expect(res.status).toBeLessThan(600);
  expect(res.status).not.toBe(500);
  if (res.status >= 300 && res.status !== 304 && method !== "HEAD") {
    expect(errorCode(res.body), res.body.slice(0, 200)).toMatch(/^[A-Za-z0-9]+$/);
  }
}

it("answers every random request with success or an S3 XML error", async () => {
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const path = `/${r.segments.join("/")}`;
      const host = r.virtualHost ? `fuzz.localhost:${fx.server.port}` : undefined;
      let res: RawResponse;
      if (r.signed) {
        const headers = { ...r.headers };
        delete headers.authorization;
        res = await signedRequest(fx, {
          method: r.method,
          path,
          query: r.query,
          headers,
          body: r.body,
          ...(host ? { host } : {}),
          ...(r.headers["x-amz-content-sha256"] ? { payloadHash: r.headers["x-amz-content-sha256"] } : {}),
        });
      } else {
        const qs = Object.entries(r.query)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join("&");
        res = await rawRequest(fx.server.url, {
          method: r.method,
          path: qs ? `${path}?${qs}` : path,
          headers: { ...r.headers, ...(host ? { host } : {}) },
          body: r.body,
        });
      }
      check(r.method, res);
    }),
    { numRuns: 400 },
  );
  expect(fx.server.stats.internalErrors, fx.server.stats.lastInternalError).toBe(0);
  // Both paths were exercised: some requests got through authentication to the handlers.
  expect(seen.ok).toBeGreaterThan(5);
  expect(seen.refused).toBeGreaterThan(50);
  // Still healthy afterwards. (Signed random PUTs may legitimately have overwritten any key the
  // fuzzer can name, so the check writes a key of its own first.)
  const key = "/fuzz/health-check.after-fuzzing";
  expect((await signedRequest(fx, { method: "PUT", path: key, body: "0123456789" })).status).toBe(200);
  const after = await signedRequest(fx, { path: key });
  expect(after.body).toBe("0123456789");
});

it("answers a request Node's HTTP parser refuses with an S3 XML error, not a bare 400", async () => {
  const { connect } = await import("node:net");
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(fx.server.port, "127.0.0.1", () => {
      // Raw (not percent-encoded) non-ASCII bytes in the request target.
      socket.write(
        Buffer.concat([
          Buffer.from("GET /fuzz/"),
          Buffer.from([0xff, 0x00, 0xfe]),
          Buffer.from(" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ]),
      );
    });
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      text += d;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  expect(errorCode(reply.slice(reply.indexOf("\r\n\r\n") + 4))).toBe("BadRequest");
});
