import { createHash } from "node:crypto";
import { request } from "node:http";
import type { S3BlobStore } from "@vkc/backend-s3mock";

/**
 * Raw S3 requests for the campaigns: requests the AWS SDK really sends (recorded from a store's
 * client after signing), re-signed with the SDK's own signer after a test changed them, and
 * sent with node:http so nothing in between fixes them up.
 */

export interface RawS3Request {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface RawS3Response {
  status: number;
  body: string;
  ms: number;
}

interface SdkHttpRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** Records every request the store's SDK client sends (after signing) into `into`. */
export function recordRequests(store: S3BlobStore, into: RawS3Request[]): void {
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as SdkHttpRequest;
      const body = req.body;
      if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
        const query: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.query ?? {})) if (typeof v === "string") query[k] = v;
        into.push({
          method: req.method,
          path: req.path,
          query,
          headers: { ...req.headers },
          body:
            typeof body === "string"
              ? new TextEncoder().encode(body)
              : body === undefined
                ? new Uint8Array()
                : body.slice(),
        });
      }
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "campaignRecorder" },
  );
}

interface SdkSigner {
  sign(req: unknown, opts?: Record<string, unknown>): Promise<{ headers: Record<string, string> }>;
}

/** Signs `req` for `endpoint` with the SDK signer of `store`; returns the headers to send. */
export async function sign(
  store: S3BlobStore,
  endpoint: string,
  req: RawS3Request,
): Promise<Record<string, string>> {
  const factory = store.client.config.signer as unknown as (scheme: unknown) => Promise<SdkSigner>;
  const signer = await factory({ name: "sigv4", properties: {} });
  const url = new URL(endpoint);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    const name = k.toLowerCase();
    if (
      name !== "authorization" &&
      name !== "x-amz-date" &&
      name !== "x-amz-content-sha256" &&
      name !== "content-length"
    )
      headers[name] = v;
  }
  headers.host = url.host;
  headers["x-amz-content-sha256"] = createHash("sha256").update(req.body).digest("hex");
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: req.path,
      query: req.query,
      headers,
      body: req.body,
    },
    { signingRegion: "us-east-1", signingService: "s3" },
  );
  return signed.headers;
}

function queryString(query: Record<string, string>): string {
  const parts = Object.entries(query).map(([k, v]) =>
    v === "" ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
  );
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

/**
 * Sends `req` with `headers`; resolves the response, or `undefined` when node:http refuses to
 * send it (an invalid header or path: the server never saw it). Rejects after `timeoutMs`.
 */
export function send(
  endpoint: string,
  req: RawS3Request,
  headers: Record<string, string>,
  timeoutMs = 1000,
): Promise<RawS3Response | undefined> {
  const url = new URL(endpoint);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    let r: ReturnType<typeof request>;
    try {
      r = request(
        {
          host: url.hostname,
          port: url.port,
          method: req.method,
          path: req.path + queryString(req.query),
          headers: { ...headers, "content-length": String(req.body.length) },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              ms: performance.now() - start,
            }),
          );
          res.on("error", reject);
        },
      );
    } catch {
      resolve(undefined);
      return;
    }
    r.on("error", reject);
    r.setTimeout(timeoutMs, () =>
      r.destroy(new Error(`no answer to ${req.method} ${req.path} in ${timeoutMs} ms`)),
    );
    r.end(req.body);
  });
}

/** True when `body` is an S3 XML error document with a Code. */
export function isS3Error(body: string): boolean {
  return /<Error>[\s\S]*<Code>[A-Za-z0-9.]+<\/Code>[\s\S]*<\/Error>/.test(body);
}
