import { request } from "node:http";
import { S3Client } from "@aws-sdk/client-s3";
import { createS3Server, type S3Server, type S3ServerOptions } from "../server.ts";

export const CREDS = { accessKeyId: "AKIDVKCTEST", secretAccessKey: "vkc-test-secret-key" };

export interface Fixture {
  server: S3Server;
  client: S3Client;
  close(): Promise<void>;
}

export async function startFixture(opts: Partial<S3ServerOptions> = {}): Promise<Fixture> {
  const server = await createS3Server({ credentials: [CREDS], ...opts });
  const client = newClient(server.url);
  return {
    server,
    client,
    async close() {
      client.destroy();
      await server.close();
    },
  };
}

export function newClient(endpoint: string, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: CREDS,
    maxAttempts: 1,
    ...extra,
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (no signing), for error cases the SDK will not send. */
export function rawRequest(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${opts.method ?? "GET"} ${opts.path} in 10 s`)));
    req.end(opts.body);
  });
}

/** The `<Code>` of an S3 XML error body. */
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
}

interface SdkSigner {
  sign(req: unknown, opts?: Record<string, unknown>): Promise<{ headers: Record<string, string> }>;
  presign(req: unknown, opts?: Record<string, unknown>): Promise<{ query: Record<string, string> }>;
}

/** The AWS SDK's own SigV4 signer (so tests sign independently of the server's code). */
export async function sdkSigner(client: S3Client): Promise<SdkSigner> {
  const factory = client.config.signer as unknown as (scheme: unknown) => Promise<SdkSigner>;
  return factory({ name: "sigv4", properties: {} });
}

export interface SignedRaw {
  method?: string;
  /** Path as sent (already percent-encoded where needed). */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Host header to sign and send (default the server's host:port). */
  host?: string;
  /** Payload hash header (default: the body's SHA-256). */
  payloadHash?: string;
}

function queryString(query: Record<string, string>): string {
  const parts = Object.entries(query).map(([k, v]) => (v === "" ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

/** Sign a raw request with the SDK's signer and send it with node:http. */
export async function signedRequest(fx: Fixture, opts: SignedRaw): Promise<RawResponse> {
  const u = new URL(fx.server.url);
  const host = opts.host ?? u.host;
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
  const { createHash } = await import("node:crypto");
  const headers: Record<string, string> = {
    host,
    "x-amz-content-sha256": opts.payloadHash ?? createHash("sha256").update(body).digest("hex"),
    ...(opts.headers ?? {}),
  };
  const signer = await sdkSigner(fx.client);
  const signed = await signer.sign(
    {
      method: opts.method ?? "GET",
      protocol: "http:",
      hostname: host.split(":")[0],
      port: Number(u.port),
      path: opts.path,
      query: opts.query ?? {},
      headers,
      body,
    },
    { signingRegion: "us-east-1", signingService: "s3" },
  );
  return rawRequest(fx.server.url, {
    method: opts.method ?? "GET",
    path: opts.path + queryString(opts.query ?? {}),
    headers: { ...signed.headers, "content-length": String(body.length) },
    body,
  });
}

/** A presigned URL path (with query) made by the SDK's signer. */
export async function presignedPath(
  fx: Fixture,
  opts: { method?: string; path: string; expiresIn: number; signingDate?: Date },
): Promise<string> {
  const u = new URL(fx.server.url);
  const signer = await sdkSigner(fx.client);
  const presigned = await signer.presign(
    {
      method: opts.method ?? "GET",
      protocol: "http:",
      hostname: u.hostname,
      port: Number(u.port),
      path: opts.path,
      query: {},
      // As @aws-sdk/s3-request-presigner does: the payload is not signed.
      headers: { host: u.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    },
    {
      expiresIn: opts.expiresIn,
      signingRegion: "us-east-1",
      signingService: "s3",
      ...(opts.signingDate ? { signingDate: opts.signingDate } : {}),
    },
  );
  return opts.path + queryString(presigned.query);
}
