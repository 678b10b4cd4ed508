import { createHash } from "node:crypto";
import { createS3Server, createS3Store, type S3BlobStore, type S3Server } from "@vkc/backend-s3mock";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { applyMutation, DecodeMeter, MAX_HEAP_GROWTH, mutation } from "./campaign-mutate.ts";
import { isS3Error, type RawS3Request, recordRequests, send, sign } from "./campaign-s3-raw.ts";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS } from "./campaign-stores.ts";
import { figure, SEED } from "./campaign-support.ts";

/**
 * Fuzzing the S3 server's request parsing (SigV4, paths, queries, headers, bodies) with
 * mutated requests the AWS SDK really sent, and its XML parser with mutated valid XML bodies
 * (DeleteObjects, CompleteMultipartUpload, CreateBucketConfiguration), re-signed so they get
 * past authentication. Every request must get a success or an S3 XML error within 1 s, and
 * the server must never fail internally (500).
 */

let server: S3Server;
let store: S3BlobStore;
const recorded: RawS3Request[] = [];
let uploadId = "";
let partEtag = "";

beforeAll(async () => {
  server = await createS3Server({
    credentials: [CAMPAIGN_CREDENTIALS],
    buckets: [CAMPAIGN_BUCKET],
    limits: { maxObjectBytes: 256 * 1024, maxXmlBytes: 64 * 1024, minPartSize: 16 },
  });
  store = createS3Store({
    bucket: CAMPAIGN_BUCKET,
    prefix: "fuzz",
    endpoint: server.url,
    credentials: CAMPAIGN_CREDENTIALS,
    maxAttempts: 1,
  });
  recordRequests(store, recorded);
  // A real workload of the image store's operations.
  await store.put("packs/a", new TextEncoder().encode("pack bytes a"));
  await store.putIfAbsent("manifests/m", new Uint8Array([0xa1, 0x61, 0x61, 0x01]));
  await store.putIfAbsent("manifests/m", new Uint8Array([1]));
  await store.get("packs/a");
  await store.get("packs/none");
  await store.getRange("packs/a", 2, 4);
  await store.has("packs/a");
  for await (const _ of store.list("packs/")) void _;
  await store.delete("packs/a");
  expect(recorded.length).toBeGreaterThanOrEqual(8);
  // A multipart upload with one part, for CompleteMultipartUpload bodies.
  const created = await signedSend({
    method: "POST",
    path: `/${CAMPAIGN_BUCKET}/mp`,
    query: { uploads: "" },
    headers: {},
    body: new Uint8Array(),
  });
  uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created?.body ?? "")?.[1] ?? "";
  expect(uploadId).not.toBe("");
  const part = new TextEncoder().encode("part one of the upload");
  await signedSend({
    method: "PUT",
    path: `/${CAMPAIGN_BUCKET}/mp`,
    query: { partNumber: "1", uploadId },
    headers: {},
    body: part,
  });
  partEtag = `"${createHash("md5").update(part).digest("hex")}"`;
});
afterAll(async () => {
  await store.close?.();
  await server.close();
});

async function signedSend(req: RawS3Request) {
  return send(server.url, req, await sign(store, server.url, req));
}

const statuses = new Map<number, number>();
const statusFigure = () =>
  [...statuses.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([status, n]) => `${status}: ${n}`)
    .join(", ");

function check(req: RawS3Request, res: { status: number; body: string } | undefined): void {
  if (res === undefined) return;
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  const what = `${req.method} ${req.path}?${new URLSearchParams(req.query)} -> ${res.status}`;
  expect(res.status, what).not.toBe(500);
  if (res.status >= 400 && req.method !== "HEAD")
    expect(isS3Error(res.body), `${what}: ${res.body.slice(0, 200)}`).toBe(true);
}

const QUERY_VALUES = [
  "",
  "0",
  "-1",
  "1000000",
  "%",
  "a/b",
  "\u00e9",
  "x".repeat(2000),
  "99999999999999999999",
];
const HEADER_VALUES = [
  "",
  "bytes=0-",
  "bytes=-1",
  "bytes=5-2",
  "bytes=0-0,1-1",
  "*",
  '"x"',
  "aws-chunked",
  "Thu, 01 Jan 1970 00:00:00 GMT",
  "9".repeat(30),
];
const PATH_EDITS = ["..", "%2e%2e", "%00", "%ff", "//", "a%2Fb", "%zz", "x".repeat(1100), "%C3%A9", "?", "#"];

const requestMutation = fc.record({
  which: fc.nat(),
  resign: fc.integer({ min: 0, max: 9 }),
  method: fc.option(fc.constantFrom("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"), { freq: 5 }),
  path: fc.option(fc.tuple(fc.constantFrom(...PATH_EDITS), fc.nat()), { freq: 3 }),
  query: fc.option(
    fc.tuple(
      fc.constantFrom(
        "uploads",
        "uploadId",
        "partNumber",
        "list-type",
        "max-keys",
        "prefix",
        "delete",
        "continuation-token",
        "X-Amz-Expires",
        "x-id",
      ),
      fc.constantFrom(...QUERY_VALUES),
    ),
    { freq: 3 },
  ),
  header: fc.option(
    fc.tuple(
      fc.constantFrom(
        "range",
        "if-none-match",
        "if-match",
        "content-encoding",
        "x-amz-decoded-content-length",
        "content-md5",
        "x-amz-checksum-crc32",
        "if-modified-since",
        "x-amz-copy-source",
      ),
      fc.constantFrom(...HEADER_VALUES),
    ),
    { freq: 3 },
  ),
  body: fc.option(mutation, { freq: 3 }),
  dropChecksums: fc.boolean(),
});

it("requests the AWS SDK sent, mutated, get a success or an S3 XML error", async () => {
  const meter = new DecodeMeter();
  statuses.clear();
  let delivered = 0;
  const before = server.stats.internalErrors;
  await fc.assert(
    fc.asyncProperty(requestMutation, async (m) => {
      const base = recorded[m.which % recorded.length] as RawS3Request;
      const req: RawS3Request = { ...base, query: { ...base.query }, headers: { ...base.headers } };
      if (m.method !== null) req.method = m.method;
      if (m.path !== null) {
        const [edit, at] = m.path;
        const cut = at % (req.path.length + 1);
        req.path = req.path.slice(0, cut) + edit + req.path.slice(cut);
        if (!req.path.startsWith("/")) req.path = `/${req.path}`;
      }
      if (m.query !== null) req.query[m.query[0]] = m.query[1];
      if (m.header !== null) req.headers[m.header[0]] = m.header[1];
      if (m.body !== null) req.body = applyMutation(req.body, m.body);
      if (m.dropChecksums)
        for (const k of Object.keys(req.headers))
          if (/^(content-md5|x-amz-checksum-|x-amz-sdk-checksum)/i.test(k)) delete req.headers[k];
      const headers = m.resign < 8 ? await sign(store, server.url, req) : req.headers;
      const result = await meter.measure(() => send(server.url, req, headers));
      if (!result.ok) throw result.error;
      if (result.value !== undefined) delivered++;
      check(req, result.value);
    }),
    { seed: SEED + 10, numRuns: 500 },
  );
  expect(server.stats.internalErrors - before).toBe(0);
  figure(
    "fuzz/s3-requests",
    `${meter.summary()}, ${delivered} delivered, from ${recorded.length} recorded SDK requests; statuses ${statusFigure()}`,
  );
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});

const XML_SNIPPETS = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<!DOCTYPE a [<!ENTITY e "eeeeeeeeee"><!ENTITY f "&e;&e;&e;&e;&e;">]>',
  "&e;",
  "&amp;&lt;&#x41;&#0;&#xFFFFFF;&bogus;",
  "<![CDATA[<Key>x</Key>]]>",
  "<!-- comment -->",
  "<Object><Key>fuzz/x</Key><VersionId>1</VersionId></Object>",
  "<Part><PartNumber>2</PartNumber><ETag>x</ETag></Part>",
  "<PartNumber>-1</PartNumber>",
  "<PartNumber>99999999999</PartNumber>",
  `${"<a>".repeat(300)}${"</a>".repeat(300)}`,
  "<Key a='1' b=\"2\">k</Key>",
  "</Delete>",
  "<Quiet>maybe</Quiet>",
  "\u0000\uffff",
  "<",
  "x".repeat(70 * 1024),
];

it("valid XML bodies, mutated, get a success or an S3 XML error", async () => {
  const meter = new DecodeMeter();
  statuses.clear();
  const before = server.stats.internalErrors;
  const bodies: { make: () => RawS3Request; xml: string }[] = [
    {
      xml: "<Delete><Object><Key>fuzz/a</Key></Object><Object><Key>fuzz/b</Key></Object><Quiet>true</Quiet></Delete>",
      make: () => ({
        method: "POST",
        path: `/${CAMPAIGN_BUCKET}`,
        query: { delete: "" },
        headers: {},
        body: new Uint8Array(),
      }),
    },
    {
      xml: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${partEtag}</ETag></Part></CompleteMultipartUpload>`,
      make: () => ({
        method: "POST",
        path: `/${CAMPAIGN_BUCKET}/mp`,
        query: { uploadId },
        headers: {},
        body: new Uint8Array(),
      }),
    },
    {
      xml: "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>",
      make: () => ({ method: "PUT", path: "/fuzz-bucket", query: {}, headers: {}, body: new Uint8Array() }),
    },
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...XML_SNIPPETS.keys()), fc.nat({ max: 40 })), {
        minLength: 0,
        maxLength: 3,
      }),
      fc.option(mutation, { freq: 2 }),
      async (which, inserts, bytes) => {
        const template = bodies[which % bodies.length] as (typeof bodies)[number];
        let xml = template.xml;
        for (const [at, snippet, cut] of inserts) {
          const pos = at % (xml.length + 1);
          xml =
            xml.slice(0, pos) + (XML_SNIPPETS[snippet] ?? "") + xml.slice(pos + (cut % 8 === 0 ? cut : 0));
        }
        let body: Uint8Array = new TextEncoder().encode(xml);
        if (bytes !== null) body = applyMutation(body, bytes);
        const req = template.make();
        req.body = body;
        req.headers["content-md5"] = createHash("md5").update(body).digest("base64");
        const result = await meter.measure(async () => signedSend(req));
        if (!result.ok) throw result.error;
        check(req, result.value);
      },
    ),
    { seed: SEED + 11, numRuns: 500 },
  );
  expect(server.stats.internalErrors - before).toBe(0);
  figure("fuzz/s3-xml", `${meter.summary()}; statuses ${statusFigure()}`);
  expect(meter.heapPeakGrowth).toBeLessThan(MAX_HEAP_GROWTH);
});
