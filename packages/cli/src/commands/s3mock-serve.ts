import { isAbsolute, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { CliIO } from "../main.ts";
import { jsonEvent } from "../output.ts";

export interface S3mockServeOptions {
  port?: number;
  host?: string;
  dir?: string;
  accessKey?: string;
  secretKey?: string;
  /** `--bucket NAME`, repeatable; default `vkc`. */
  bucket?: string[];
  region?: string;
  json?: boolean;
}

export interface S3mockServeContext {
  io: CliIO;
  cwd: string;
  /** Stops the server when aborted; default: the first SIGINT or SIGTERM. */
  stop?: AbortSignal;
}

/**
 * `vkc s3mock serve`: run vkc's S3-compatible server in the foreground until SIGINT/SIGTERM.
 * Prints one line on stderr with the URL and the environment to give S3 clients (and, with
 * `--json`, a `listening` event on stdout), then a `stopped` event when it stops.
 */
export async function s3mockServe(opts: S3mockServeOptions, ctx: S3mockServeContext): Promise<number> {
  const { io } = ctx;
  if ((opts.accessKey === undefined) !== (opts.secretKey === undefined)) {
    throw new UsageError("give both --access-key and --secret-key, or neither (fresh keys are generated)");
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { serveS3Mock } = await import("@vkc/backend-s3mock");
  const dir =
    opts.dir === undefined ? undefined : isAbsolute(opts.dir) ? opts.dir : resolve(ctx.cwd, opts.dir);
  const handle = await serveS3Mock({
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(dir === undefined ? {} : { dir }),
    ...(opts.accessKey === undefined ? {} : { accessKey: opts.accessKey }),
    ...(opts.secretKey === undefined ? {} : { secretKey: opts.secretKey }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.bucket === undefined || opts.bucket.length === 0 ? {} : { buckets: opts.bucket }),
  });
  const stop = ctx.stop ?? signalStop();
  try {
    const bucket = handle.buckets[0] ?? "vkc";
    const { accessKeyId, secretAccessKey } = handle.credentials;
    const region = handle.server.region;
    if (opts.json) {
      jsonEvent(io, "listening", {
        url: handle.url,
        host: handle.server.host,
        port: handle.port,
        region,
        buckets: handle.buckets,
        dir: dir ?? null,
        accessKeyId,
        secretAccessKey,
        store: `s3://${bucket}/`,
      });
    }
    const secret = handle.generatedCredentials ? secretAccessKey : "<your --secret-key>";
    io.err(
      `vkc s3mock: serving ${dir === undefined ? "in memory" : dir} at ${handle.url} (buckets ${handle.buckets.join(", ")}; Ctrl-C stops); use: AWS_ENDPOINT_URL=${handle.url} AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secret} AWS_REGION=${region} vkc images ls --store s3://${bucket}/\n`,
    );
    await aborted(stop);
  } finally {
    await handle.close();
  }
  if (opts.json) jsonEvent(io, "stopped", { url: handle.url, requests: handle.server.stats.requests });
  return 0;
}

/** An AbortSignal that fires on the first SIGINT or SIGTERM; the handlers are removed then. */
function signalStop(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return controller.signal;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
