import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { errors, S3Fault } from "./server-errors.ts";

/**
 * AWS Signature Version 4 verification for the S3 server: `Authorization` headers and
 * presigned query strings, against the configured credentials. The result carries what the
 * body reader needs to check the payload hash and aws-chunked chunk signatures.
 */

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_EXPIRES = 7 * 24 * 3600;

export interface S3Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface AuthResult {
  accessKeyId: string;
  /** Value of x-amz-content-sha256 (or UNSIGNED-PAYLOAD for presigned URLs). */
  payloadHash: string;
  /** The request's signature: the seed of aws-chunked chunk signatures. */
  signature: string;
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  presigned: boolean;
}

export interface SignedRequest {
  method: string;
  /** The path as sent on the wire (still percent-encoded). */
  rawPath: string;
  /** Query parameters, decoded, in the order sent. */
  query: Array<[string, string]>;
  headers: IncomingHttpHeaders;
}

/** Percent-encode like SigV4: every byte except `A-Za-z0-9-_.~` (and `/` when `keepSlash`). */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Decode a percent-encoded URI component, or throw S3's InvalidURI. */
export function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Fault("InvalidURI", 400, "Couldn't parse the specified URI.");
  }
}

export function sha256Hex(data: Uint8Array | string | readonly Uint8Array[]): string {
  const hash = createHash("sha256");
  if (typeof data === "string" || data instanceof Uint8Array) hash.update(data);
  else for (const chunk of data) hash.update(chunk);
  return hash.digest("hex");
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

export function signingKeyFor(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

export function hmacHex(key: Buffer, data: string): string {
  return createHmac("sha256", key).update(data, "utf8").digest("hex");
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : v;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(t) ? undefined : new Date(t);
}

function canonicalQuery(query: Array<[string, string]>, skipSignature: boolean): string {
  const pairs = query
    .filter(([k]) => !(skipSignature && k === "X-Amz-Signature"))
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function canonicalHeaders(headers: IncomingHttpHeaders, signed: string[]): string {
  let out = "";
  for (const name of signed) {
    const value = headerValue(headers, name);
    if (value === undefined) throw errors.signatureDoesNotMatch();
    out += `${name}:${value.trim().replace(/\s+/g, " ")}\n`;
  }
  return out;
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
}

function parseCredential(credential: string, malformed: (m: string) => S3Fault) {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request") throw malformed("the Credential is mal-formed");
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!/^\d{8}$/.test(date)) throw malformed("the Credential date is mal-formed");
  return { accessKeyId, date, region, service };
}

function parseHeaderAuth(req: SignedRequest, authorization: string): Parsed {
  const malformed = (m: string) =>
    errors.authorizationHeaderMalformed(`The authorization header is malformed; ${m}.`);
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    if (authorization.startsWith("AWS "))
      throw errors.invalidRequest("Signature Version 2 is not supported; use AWS4-HMAC-SHA256.");
    throw malformed("the authorization mechanism is not supported");
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw malformed("a field has no value");
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature)
    throw malformed("Credential, SignedHeaders and Signature are required");
  const amzDate = headerValue(req.headers, "x-amz-date");
  if (amzDate === undefined)
    throw errors.accessDenied("AWS authentication requires a valid Date or x-amz-date header");
  const payloadHash = headerValue(req.headers, "x-amz-content-sha256");
  if (payloadHash === undefined)
    throw errors.invalidRequest("Missing required header for this request: x-amz-content-sha256");
  return {
    ...parseCredential(credential, malformed),
    signedHeaders: signedHeaders.split(";"),
    signature,
    amzDate,
    payloadHash,
  };
}

/** The AWS SDK's presigner puts `x-amz-content-sha256=UNSIGNED-PAYLOAD` in the query (any case). */
function presignedPayloadHash(query: Array<[string, string]>): string | undefined {
  return query.find(([k]) => k.toLowerCase() === "x-amz-content-sha256")?.[1];
}

function parsePresigned(req: SignedRequest, q: Map<string, string>, now: Date): Parsed {
  const malformed = (m: string) =>
    errors.authorizationQueryParametersError(`Query-string authentication is malformed: ${m}.`);
  if (q.get("X-Amz-Algorithm") !== ALGORITHM) throw malformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  const credential = q.get("X-Amz-Credential");
  const amzDate = q.get("X-Amz-Date");
  const expires = q.get("X-Amz-Expires");
  const signedHeaders = q.get("X-Amz-SignedHeaders");
  const signature = q.get("X-Amz-Signature");
  if (!credential || !amzDate || !expires || !signedHeaders || !signature) {
    throw malformed(
      "X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature are required",
    );
  }
  if (!/^\d{1,6}$/.test(expires) || Number(expires) > MAX_PRESIGN_EXPIRES) {
    throw malformed("X-Amz-Expires must be a number of seconds up to 604800");
  }
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw malformed("X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ");
  if (signedAt.getTime() + Number(expires) * 1000 < now.getTime())
    throw errors.accessDenied("Request has expired");
  if (signedAt.getTime() - MAX_SKEW_MS > now.getTime()) throw errors.accessDenied("Request is not valid yet");
  return {
    ...parseCredential(credential, malformed),
    signedHeaders: signedHeaders.split(";"),
    signature,
    amzDate,
    payloadHash: presignedPayloadHash(req.query) ?? UNSIGNED_PAYLOAD,
  };
}

export interface VerifyOptions {
  credentials: ReadonlyMap<string, string>;
  /** When set, the credential scope's region must be this one. */
  region: string | undefined;
  now: Date;
}

/**
 * Check a request's signature. Returns `undefined` for an anonymous request (no
 * Authorization header and no X-Amz-Signature): the caller refuses those with AccessDenied.
 */
export function verifySignature(req: SignedRequest, opts: VerifyOptions): AuthResult | undefined {
  const authorization = headerValue(req.headers, "authorization");
  const q = new Map(req.query);
  let parsed: Parsed;
  let presigned = false;
  if (authorization !== undefined) parsed = parseHeaderAuth(req, authorization);
  else if (q.has("X-Amz-Signature") || q.has("X-Amz-Credential")) {
    parsed = parsePresigned(req, q, opts.now);
    presigned = true;
  } else return undefined;

  const secret = opts.credentials.get(parsed.accessKeyId);
  if (secret === undefined) throw errors.invalidAccessKeyId(parsed.accessKeyId);
  if (parsed.service !== "s3") {
    throw errors.authorizationHeaderMalformed(
      `The authorization header is malformed; the service '${parsed.service}' is not 's3'.`,
    );
  }
  if (opts.region !== undefined && parsed.region !== opts.region) {
    throw errors.authorizationHeaderMalformed(
      `The authorization header is malformed; the region '${parsed.region}' is wrong; expecting '${opts.region}'`,
    );
  }
  if (!presigned) {
    const at = parseAmzDate(parsed.amzDate);
    if (at === undefined)
      throw errors.accessDenied("AWS authentication requires a valid Date or x-amz-date header");
    if (Math.abs(at.getTime() - opts.now.getTime()) > MAX_SKEW_MS) throw errors.requestTimeTooSkewed();
  }
  if (parsed.amzDate.slice(0, 8) !== parsed.date) throw errors.signatureDoesNotMatch();
  if (!parsed.signedHeaders.includes("host")) throw errors.accessDenied("The host header must be signed");
  for (const h of parsed.signedHeaders)
    if (h !== h.toLowerCase() || h === "") throw errors.signatureDoesNotMatch();

  const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`;
  const signingKey = signingKeyFor(secret, parsed.date, parsed.region, parsed.service);
  const query = canonicalQuery(req.query, presigned);
  const headers = canonicalHeaders(req.headers, parsed.signedHeaders);
  const signedList = parsed.signedHeaders.join(";");
  const payload = parsed.payloadHash;

  // Clients encode paths slightly differently (the AWS SDK sends S3 keys encoded once, as
  // SigV4 wants); accept the path as sent, or normalized to SigV4's encoding.
  const paths = new Set([req.rawPath, uriEncode(decodeComponent(req.rawPath), true)]);
  for (const path of paths) {
    const canonical = `${req.method}\n${path}\n${query}\n${headers}\n${signedList}\n${payload}`;
    const toSign = `${ALGORITHM}\n${parsed.amzDate}\n${scope}\n${sha256Hex(canonical)}`;
    if (sameSignature(hmacHex(signingKey, toSign), parsed.signature)) {
      return {
        accessKeyId: parsed.accessKeyId,
        payloadHash: parsed.payloadHash,
        signature: parsed.signature,
        signingKey,
        amzDate: parsed.amzDate,
        scope,
        presigned,
      };
    }
  }
  throw errors.signatureDoesNotMatch();
}
