import { describe, expect, it } from "vitest";
import { decodeAwsChunked } from "./server-body.ts";
import { S3Fault } from "./server-errors.ts";
import { type SignedRequest, signingKeyFor, uriEncode, verifySignature } from "./server-sigv4.ts";

/** SigV4 checked against the worked examples in AWS's S3 documentation (independent of our code). */

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const credentials = new Map([[KEY_ID, SECRET]]);
const NOW = new Date(Date.UTC(2013, 4, 24, 0, 5, 0));
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function auth(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${KEY_ID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

function verify(req: SignedRequest, now = NOW) {
  return verifySignature(req, { credentials, region: undefined, now });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof S3Fault) return err.s3Code;
    throw err;
  }
  return "none";
}

const getObject: SignedRequest = {
  method: "GET",
  rawPath: "/test.txt",
  query: [],
  headers: {
    host: "examplebucket.s3.amazonaws.com",
    range: "bytes=0-9",
    "x-amz-content-sha256": EMPTY,
    "x-amz-date": "20130524T000000Z",
    authorization: auth(
      "host;range;x-amz-content-sha256;x-amz-date",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    ),
  },
};

describe("SigV4 Authorization header", () => {
  it("accepts AWS's GetObject example", () => {
    expect(verify(getObject)?.accessKeyId).toBe(KEY_ID);
  });

  it("accepts AWS's PutObject example (a key with '$')", () => {
    const req: SignedRequest = {
      method: "PUT",
      rawPath: "/test%24file.text",
      query: [],
      headers: {
        host: "examplebucket.s3.amazonaws.com",
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        authorization: auth(
          "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
          "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
      },
    };
    expect(verify(req)?.payloadHash).toBe("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  });

  it("accepts AWS's ListObjects example (sorted query)", () => {
    const req: SignedRequest = {
      method: "GET",
      rawPath: "/",
      query: [
        ["max-keys", "2"],
        ["prefix", "J"],
      ],
      headers: {
        host: "examplebucket.s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": EMPTY,
        authorization: auth(
          "host;x-amz-content-sha256;x-amz-date",
          "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
      },
    };
    expect(verify(req)).toBeDefined();
  });

  it("refuses a changed header, a wrong key id, a skewed clock and a wrong region", () => {
    expect(
      codeOf(() => verify({ ...getObject, headers: { ...getObject.headers, range: "bytes=0-10" } })),
    ).toBe("SignatureDoesNotMatch");
    expect(codeOf(() => verify({ ...getObject, method: "DELETE" }))).toBe("SignatureDoesNotMatch");
    const otherKey = {
      ...getObject.headers,
      authorization: String(getObject.headers.authorization).replace(KEY_ID, "AKIDUNKNOWN"),
    };
    expect(codeOf(() => verify({ ...getObject, headers: otherKey }))).toBe("InvalidAccessKeyId");
    expect(codeOf(() => verify(getObject, new Date(Date.UTC(2013, 4, 24, 1, 0, 0))))).toBe(
      "RequestTimeTooSkewed",
    );
    expect(codeOf(() => verifySignature(getObject, { credentials, region: "eu-west-1", now: NOW }))).toBe(
      "AuthorizationHeaderMalformed",
    );
  });

  it("treats a request without any signature as anonymous", () => {
    expect(verify({ method: "GET", rawPath: "/x", query: [], headers: { host: "h" } })).toBeUndefined();
  });
});

describe("SigV4 presigned URLs", () => {
  const presigned: SignedRequest = {
    method: "GET",
    rawPath: "/test.txt",
    query: [
      ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
      ["X-Amz-Credential", `${KEY_ID}/20130524/us-east-1/s3/aws4_request`],
      ["X-Amz-Date", "20130524T000000Z"],
      ["X-Amz-Expires", "86400"],
      ["X-Amz-SignedHeaders", "host"],
      ["X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"],
    ],
    headers: { host: "examplebucket.s3.amazonaws.com" },
  };

  it("accepts AWS's presigned GetObject example", () => {
    expect(verify(presigned)?.presigned).toBe(true);
  });

  it("refuses it once expired, and when tampered with", () => {
    expect(codeOf(() => verify(presigned, new Date(Date.UTC(2013, 4, 25, 0, 0, 1))))).toBe("AccessDenied");
    const tampered = presigned.query.map(([k, v]): [string, string] => [
      k,
      k === "X-Amz-Expires" ? "86401" : v,
    ]);
    expect(codeOf(() => verify({ ...presigned, query: tampered }))).toBe("SignatureDoesNotMatch");
    const tooLong = presigned.query.map(([k, v]): [string, string] => [
      k,
      k === "X-Amz-Expires" ? "604801" : v,
    ]);
    expect(codeOf(() => verify({ ...presigned, query: tooLong }))).toBe("AuthorizationQueryParametersError");
  });
});

describe("aws-chunked with chunk signatures", () => {
  // AWS's example: 66560 bytes of 'a' in chunks of 65536 and 1024, seed signature from the headers.
  const seedRequest: SignedRequest = {
    method: "PUT",
    rawPath: "/examplebucket/chunkObject.txt",
    query: [],
    headers: {
      host: "s3.amazonaws.com",
      "x-amz-date": "20130524T000000Z",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "content-encoding": "aws-chunked",
      "x-amz-decoded-content-length": "66560",
      "content-length": "66824",
      "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      authorization: auth(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
      ),
    },
  };
  const chunk = (data: Buffer, sig: string) =>
    Buffer.concat([
      Buffer.from(`${data.length.toString(16)};chunk-signature=${sig}\r\n`),
      data,
      Buffer.from("\r\n"),
    ]);
  const body = Buffer.concat([
    chunk(Buffer.alloc(65536, "a"), "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    chunk(Buffer.alloc(1024, "a"), "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    chunk(Buffer.alloc(0), "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
  ]);

  it("verifies AWS's example seed and chunk chain", () => {
    expect(body.length).toBe(66824);
    const a = verify(seedRequest);
    if (a === undefined) throw new Error("not signed");
    const decoded = decodeAwsChunked(body, a, true, 1 << 20);
    expect(decoded.data.equals(Buffer.alloc(66560, "a"))).toBe(true);
  });

  it("refuses a chunk whose data or signature was changed", () => {
    const a = verify(seedRequest);
    if (a === undefined) throw new Error("not signed");
    const flipped = Buffer.from(body);
    flipped[200] = 0x62;
    expect(codeOf(() => decodeAwsChunked(flipped, a, true, 1 << 20))).toBe("SignatureDoesNotMatch");
    expect(codeOf(() => decodeAwsChunked(body.subarray(0, 1000), a, true, 1 << 20))).toBe("IncompleteBody");
    expect(codeOf(() => decodeAwsChunked(body, a, true, 1000))).toBe("EntityTooLarge");
  });

  it("reads unsigned chunks with a checksum trailer", () => {
    const a = verify(getObject);
    if (a === undefined) throw new Error("not signed");
    const raw = Buffer.from("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n");
    const decoded = decodeAwsChunked(raw, a, false, 100);
    expect(decoded.data.toString()).toBe("hello");
    expect(decoded.trailers.get("x-amz-checksum-crc32")).toBe("NhCmhg==");
  });
});

describe("helpers", () => {
  it("encodes like SigV4 and derives AWS's example signing key", () => {
    expect(uriEncode("a b/c~d*e", true)).toBe("a%20b/c~d%2Ae");
    expect(uriEncode("a/b", false)).toBe("a%2Fb");
    expect(uriEncode("é", false)).toBe("%C3%A9");
    // From AWS's "deriving the signing key" example (service iam, 20120215, us-east-1).
    expect(
      signingKeyFor("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam").toString(
        "hex",
      ),
    ).toBe("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  });
});
