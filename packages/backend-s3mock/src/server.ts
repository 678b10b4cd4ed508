import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from "node:net";
import { S3ServerError } from "./errors.ts";
import { type RequestBody, readRequestBody } from "./server-body.ts";
import {
  createBucket,
  deleteBucket,
  deleteObjects,
  getBucketLocation,
  headBucket,
  listBuckets,
  listObjects,
  validBucketName,
} from "./server-buckets.ts";
import type { HandlerContext, S3Response } from "./server-context.ts";
import { errors, renderErrorXml, S3Fault } from "./server-errors.ts";
import { FaultInjector, type S3Faults } from "./server-faults.ts";
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from "./server-multipart.ts";
import { copyObject, deleteObject, getObject, putObject } from "./server-objects.ts";
import { decodeComponent, type S3Credential, verifySignature } from "./server-sigv4.ts";
import { ServerState } from "./server-state.ts";
import { MemoryBackend, type StorageBackend } from "./server-storage.ts";
import { DirBackend } from "./server-storage-dir.ts";

/** The S3-compatible HTTP server: routing, authentication, limits, faults, responses. */

export interface S3ServerLimits {
  /** Largest object or part body accepted, in bytes (default 256 MiB; S3's is 5 GiB). */
  maxObjectBytes?: number;
  /** Largest XML request body, in bytes (default 2 MiB). */
  maxXmlBytes?: number;
  /** Smallest size of a multipart part that is not the last one (default 5 MiB, as S3). */
  minPartSize?: number;
  /** Largest object CompleteMultipartUpload may assemble, in bytes (default 2 GiB; it is assembled in memory). */
  maxMultipartBytes?: number;
}

export interface S3ServerOptions {
  /** TCP port; 0 or absent picks a free one. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Also accept connections on this Unix socket path (created; removed at close): clients on the
   * same machine skip TCP (`createS3Store({ socketPath })`). Requests are the same, signed for `url`.
   */
  socketPath?: string;
  /** Keep objects in this directory (a restart loses nothing); absent: in memory. */
  dir?: string;
  /** Accepted key pairs; every request must be signed (SigV4) with one of them. */
  credentials: S3Credential[];
  /** When set, signatures must be scoped to this region; also reported by HeadBucket (default us-east-1). */
  region?: string;
  faults?: S3Faults;
  limits?: S3ServerLimits;
  /** Host names under which `<bucket>.<name>` selects a bucket virtual-host style (default `["localhost"]`). */
  virtualHostSuffixes?: string[];
  /** Buckets to create at start-up if missing. */
  buckets?: string[];
}

export interface S3ServerStats {
  requests: number;
  /** Requests per S3 operation name (`PutObject`, `ListObjectsV2`, ...). */
  operations: Record<string, number>;
  /** Responses by status code. */
  statuses: Record<number, number>;
  faults: { error: number; slowDown: number; drop: number; truncate: number };
  /** Unexpected failures inside the server (answered 500 InternalError). */
  internalErrors: number;
  /** Message of the last unexpected failure, for debugging. */
  lastInternalError: string | undefined;
  bytesIn: number;
  bytesOut: number;
}

export interface S3Server {
  /** `http://host:port`, the endpoint to give S3 clients. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly region: string;
  /** The Unix socket it also listens on, if any (`S3ServerOptions.socketPath`). */
  readonly socketPath: string | undefined;
  readonly stats: S3ServerStats;
  /** Replace the fault settings at run time (`{}` turns faults off). */
  setFaults(faults: S3Faults): void;
  /** Create a bucket directly (no request); resolves `false` when it already existed. */
  createBucket(name: string): Promise<boolean>;
  /** Stop listening, drop open connections, release the storage. Idempotent. */
  close(): Promise<void>;
}

const DEFAULTS = {
  maxObjectBytes: 256 * 1024 * 1024,
  maxXmlBytes: 2 * 1024 * 1024,
  minPartSize: 5 * 1024 * 1024,
  maxMultipartBytes: 2 * 1024 * 1024 * 1024,
};

/** Query parameters naming S3 sub-resources this server does not implement. */
const UNSUPPORTED = new Set([
  "acl",
  "tagging",
  "versioning",
  "versions",
  "policy",
  "policyStatus",
  "cors",
  "lifecycle",
  "website",
  "retention",
  "legal-hold",
  "object-lock",
  "encryption",
  "replication",
  "notification",
  "logging",
  "attributes",
  "restore",
  "select",
  "torrent",
  "accelerate",
  "requestPayment",
  "ownershipControls",
  "publicAccessBlock",
  "analytics",
  "metrics",
  "inventory",
  "intelligent-tiering",
  "uploadId-marker-unsupported",
  "session",
]);

interface Route {
  bucket: string;
  key: string;
  query: Map<string, string>;
  rawPath: string;
  rawQuery: Array<[string, string]>;
}

function parseRoute(req: IncomingMessage, suffixes: string[]): Route {
  const url = req.url ?? "/";
  if (!url.startsWith("/")) throw new S3Fault("InvalidURI", 400, "Couldn't parse the specified URI.");
  const q = url.indexOf("?");
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery: Array<[string, string]> = [];
  if (q >= 0) {
    for (const part of url.slice(q + 1).split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const name = decodeComponent(eq < 0 ? part : part.slice(0, eq));
      rawQuery.push([name, eq < 0 ? "" : decodeComponent(part.slice(eq + 1))]);
    }
  }
  const query = new Map<string, string>();
  for (const [k, v] of rawQuery) if (!query.has(k)) query.set(k, v);

  const hostHeader = req.headers.host ?? "";
  const hostname = (
    hostHeader.startsWith("[")
      ? hostHeader.slice(0, hostHeader.indexOf("]") + 1)
      : (hostHeader.split(":")[0] ?? "")
  ).toLowerCase();
  let hostBucket: string | undefined;
  for (const suffix of suffixes) {
    if (hostname.endsWith(`.${suffix}`) && hostname.length > suffix.length + 1) {
      hostBucket = hostname.slice(0, -(suffix.length + 1));
      break;
    }
  }
  const path = rawPath.slice(1);
  if (hostBucket !== undefined)
    return { bucket: hostBucket, key: decodeComponent(path), query, rawPath, rawQuery };
  const slash = path.indexOf("/");
  const bucket = decodeComponent(slash < 0 ? path : path.slice(0, slash));
  const key = slash < 0 ? "" : decodeComponent(path.slice(slash + 1));
  return { bucket, key, query, rawPath, rawQuery };
}

/** The S3 operation a request asks for (before its body is read). */
export function operationOf(method: string, route: Route, copySource: boolean): string {
  const q = route.query;
  for (const name of q.keys()) if (UNSUPPORTED.has(name)) throw errors.notImplemented(`?${name}`);
  if (route.bucket === "") {
    if (method === "GET") return "ListBuckets";
    throw errors.methodNotAllowed(method);
  }
  if (route.key === "") {
    switch (method) {
      case "PUT":
        return "CreateBucket";
      case "HEAD":
        return "HeadBucket";
      case "DELETE":
        return "DeleteBucket";
      case "GET":
        if (q.has("uploads")) return "ListMultipartUploads";
        if (q.has("location")) return "GetBucketLocation";
        return q.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
      case "POST":
        if (q.has("delete")) return "DeleteObjects";
        throw errors.methodNotAllowed(method);
      default:
        throw errors.methodNotAllowed(method);
    }
  }
  switch (method) {
    case "PUT":
      if (q.has("uploadId") || q.has("partNumber")) {
        if (copySource) throw errors.notImplemented("UploadPartCopy");
        return "UploadPart";
      }
      return copySource ? "CopyObject" : "PutObject";
    case "GET":
      return q.has("uploadId") ? "ListParts" : "GetObject";
    case "HEAD":
      return "HeadObject";
    case "DELETE":
      return q.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    case "POST":
      if (q.has("uploads")) return "CreateMultipartUpload";
      if (q.has("uploadId")) return "CompleteMultipartUpload";
      throw errors.methodNotAllowed(method);
    default:
      throw errors.methodNotAllowed(method);
  }
}

function dispatch(operation: string, ctx: HandlerContext): Promise<S3Response> {
  switch (operation) {
    case "ListBuckets":
      return listBuckets(ctx);
    case "CreateBucket":
      return createBucket(ctx);
    case "HeadBucket":
      return headBucket(ctx);
    case "DeleteBucket":
      return deleteBucket(ctx);
    case "GetBucketLocation":
      return getBucketLocation(ctx);
    case "ListObjects":
      return listObjects(ctx, 1);
    case "ListObjectsV2":
      return listObjects(ctx, 2);
    case "DeleteObjects":
      return deleteObjects(ctx);
    case "ListMultipartUploads":
      return listMultipartUploads(ctx);
    case "PutObject":
      return putObject(ctx);
    case "CopyObject":
      return copyObject(ctx);
    case "GetObject":
      return getObject(ctx, false);
    case "HeadObject":
      return getObject(ctx, true);
    case "DeleteObject":
      return deleteObject(ctx);
    case "CreateMultipartUpload":
      return createMultipartUpload(ctx);
    case "UploadPart":
      return uploadPart(ctx);
    case "CompleteMultipartUpload":
      return completeMultipartUpload(ctx);
    case "AbortMultipartUpload":
      return abortMultipartUpload(ctx);
    case "ListParts":
      return listParts(ctx);
    default:
      throw errors.notImplemented(operation);
  }
}

const BODY_OPERATIONS = new Set(["PutObject", "UploadPart"]);

export async function createS3Server(options: S3ServerOptions): Promise<S3Server> {
  if (options.credentials.length === 0) throw new S3ServerError("at least one credential is required");
  const credentials = new Map(options.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  const region = options.region ?? "us-east-1";
  const limits = { ...DEFAULTS, ...options.limits };
  const suffixes = options.virtualHostSuffixes ?? ["localhost"];
  const faults = new FaultInjector(options.faults);
  const backend: StorageBackend =
    options.dir === undefined ? new MemoryBackend() : new DirBackend(options.dir);
  const state = new ServerState(backend);
  try {
    await state.load();
  } catch (err) {
    throw new S3ServerError(`cannot load ${options.dir ?? "storage"}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const addBucket = async (name: string): Promise<boolean> => {
    if (!validBucketName(name)) throw new S3ServerError(`invalid bucket name ${JSON.stringify(name)}`);
    return state.createBucket(name, Date.now());
  };
  for (const name of options.buckets ?? []) await addBucket(name);

  const stats: S3ServerStats = {
    requests: 0,
    operations: {},
    statuses: {},
    faults: { error: 0, slowDown: 0, drop: 0, truncate: 0 },
    internalErrors: 0,
    lastInternalError: undefined,
    bytesIn: 0,
    bytesOut: 0,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    const method = req.method ?? "GET";
    let resource = req.url?.split("?")[0] ?? "/";
    let bodyRead = false;
    let decision: ReturnType<FaultInjector["decide"]> = "none";
    let response: S3Response;
    try {
      const route = parseRoute(req, suffixes);
      resource = `/${route.bucket}${route.key === "" ? "" : `/${route.key}`}`;
      // An unsupported request is refused after authentication, as S3 does.
      let refused: S3Fault | undefined;
      let operation = "Unsupported";
      try {
        operation = operationOf(method, route, req.headers["x-amz-copy-source"] !== undefined);
      } catch (err) {
        if (!(err instanceof S3Fault)) throw err;
        refused = err;
      }
      stats.operations[operation] = (stats.operations[operation] ?? 0) + 1;
      const latency = faults.latencyFor(operation);
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));

      const auth = verifySignature(
        { method, rawPath: route.rawPath, query: route.rawQuery, headers: req.headers },
        { credentials, region: options.region, now: new Date() },
      );
      if (auth === undefined) throw errors.accessDenied();
      if (refused !== undefined) throw refused;
      const maxBody = BODY_OPERATIONS.has(operation) ? limits.maxObjectBytes : limits.maxXmlBytes;
      const body: RequestBody = await readRequestBody(req, auth, maxBody);
      bodyRead = true;
      stats.bytesIn += body.size;

      decision = faults.decide(operation);
      if (decision === "error") {
        stats.faults.error++;
        throw errors.internalError();
      }
      if (decision === "slowDown") {
        stats.faults.slowDown++;
        throw errors.slowDown();
      }
      const ctx: HandlerContext = {
        state,
        method,
        bucket: route.bucket,
        key: route.key,
        query: route.query,
        headers: req.headers,
        body,
        region,
        minPartSize: limits.minPartSize,
        maxMultipartBytes: limits.maxMultipartBytes,
        now: Date.now(),
      };
      response = await dispatch(operation, ctx);
    } catch (err) {
      let fault: S3Fault;
      if (err instanceof S3Fault) fault = err;
      else {
        stats.internalErrors++;
        stats.lastInternalError = err instanceof Error ? (err.stack ?? err.message) : String(err);
        fault = errors.internalError();
      }
      response = {
        status: fault.status,
        headers: { "content-type": "application/xml", ...fault.headers },
        body: renderErrorXml(fault, resource, requestId),
      };
    }
    send(res, response, requestId, method === "HEAD", bodyRead, decision);
  }

  function send(
    res: ServerResponse,
    response: S3Response,
    requestId: string,
    head: boolean,
    bodyRead: boolean,
    decision: string,
  ): void {
    stats.statuses[response.status] = (stats.statuses[response.status] ?? 0) + 1;
    // A view, not a copy: object bodies are megabytes, and nothing below changes them.
    const body =
      response.body === undefined
        ? Buffer.alloc(0)
        : typeof response.body === "string"
          ? Buffer.from(response.body)
          : Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
    const headers: Record<string, string> = {
      "x-amz-request-id": requestId,
      "x-amz-id-2": requestId,
      date: new Date().toUTCString(),
      server: "vkc-s3mock",
      ...response.headers,
    };
    if (!head || headers["content-length"] === undefined)
      headers["content-length"] = String(head ? 0 : body.length);
    if (!bodyRead) headers.connection = "close";
    const payload = head ? Buffer.alloc(0) : body;
    if (decision === "drop") {
      stats.faults.drop++;
      res.writeHead(response.status, headers);
      res.flushHeaders();
      res.write(payload.subarray(0, payload.length >> 1), () => res.destroy());
      return;
    }
    if (decision === "truncate" && payload.length > 0) {
      stats.faults.truncate++;
      res.writeHead(response.status, headers);
      res.write(payload.subarray(0, payload.length >> 1), () => res.socket?.end());
      return;
    }
    res.writeHead(response.status, headers);
    stats.bytesOut += payload.length;
    res.end(payload);
    if (!bodyRead) res.once("finish", () => res.socket?.end());
  }

  const server = createServer({ requestTimeout: 300_000, headersTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  // A request Node's HTTP parser refuses (raw non-ASCII in the path, a malformed header line)
  // never reaches `handle`: answer it as S3 would, with an XML error body, then close.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // As Node's own handler does: no second answer on a socket whose response is under way.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (!socket.writable || err.code === "ECONNRESET" || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const body = renderErrorXml(
      new S3Fault("BadRequest", 400, "The request could not be parsed as HTTP."),
      "",
      "0000000000000000",
    );
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new S3ServerError(`cannot listen on ${host}:${options.port ?? 0}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // The Unix socket hands its connections to the same HTTP server (same handlers, same close).
  let local: NetServer | undefined;
  if (options.socketPath !== undefined) {
    const path = options.socketPath;
    const unix = createNetServer((socket) => server.emit("connection", socket));
    try {
      await new Promise<void>((resolve, reject) => {
        unix.once("error", (err) =>
          reject(new S3ServerError(`cannot listen on ${path}: ${err.message}`, { cause: err })),
        );
        unix.listen(path, () => resolve());
      });
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    }
    local = unix;
  }
  let closed: Promise<void> | undefined;

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    host,
    region,
    socketPath: options.socketPath,
    stats,
    setFaults: (f) => faults.set(f),
    createBucket: addBucket,
    close() {
      closed ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        new Promise<void>((resolve) => (local === undefined ? resolve() : local.close(() => resolve()))),
      ]).then(() => backend.close());
      return closed;
    },
  };
}
