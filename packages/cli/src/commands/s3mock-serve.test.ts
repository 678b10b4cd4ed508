import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createS3Store } from "@vkc/backend-s3mock";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { s3mockServe } from "./s3mock-serve.ts";

const root = join(import.meta.dirname, "..", "..", "..", "..");

// The SDK's notice about future Node versions is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

interface Listening {
  event: "listening";
  url: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  buckets: string[];
  store: string;
}

describe("vkc s3mock serve", () => {
  test("runs as a process: prints the listening event, answers the AWS SDK, exits 0 on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@vkc/source",
        "packages/cli/src/bin.ts",
        "s3mock",
        "serve",
        "--port",
        "0",
        "--json",
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "1" } },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    try {
      const first = await lines.next();
      expect(first.done, `no listening line; stderr: ${stderr}`).toBe(false);
      const listening = JSON.parse(first.value as string) as Listening;
      expect(listening).toMatchObject({ event: "listening", buckets: ["vkc"], store: "s3://vkc/" });
      expect(listening.url).toBe(`http://127.0.0.1:${listening.port}`);
      expect(listening.port).toBeGreaterThan(0);

      const store = createS3Store({
        bucket: "vkc",
        endpoint: listening.url,
        region: listening.region,
        credentials: { accessKeyId: listening.accessKeyId, secretAccessKey: listening.secretAccessKey },
        env: {},
      });
      await store.put("hello/world", new TextEncoder().encode("hi"));
      expect(new TextDecoder().decode(await store.get("hello/world"))).toBe("hi");
      await store.close?.();

      expect(stderr).toMatch(
        new RegExp(
          `^vkc s3mock: serving in memory at ${listening.url} .*AWS_ENDPOINT_URL=${listening.url} AWS_ACCESS_KEY_ID=${listening.accessKeyId} AWS_SECRET_ACCESS_KEY=${listening.secretAccessKey} .*vkc images ls --store s3://vkc/\\n$`,
        ),
      );
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const last = await lines.next();
      expect(JSON.parse(last.value as string)).toMatchObject({
        event: "stopped",
        url: listening.url,
        requests: 2,
      });
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("in-process: one line on stderr with the URL and credentials, on a directory, until stopped", async () => {
    const io = captureIO();
    const stop = new AbortController();
    const dir = mkdtempSync(join(tmpdir(), "vkc-s3mock-"));
    const serving = s3mockServe(
      { port: 0, dir, accessKey: "dev", secretKey: "devsecret", bucket: ["one", "two"] },
      { io, cwd: "/", stop: stop.signal },
    );
    for (let i = 0; i < 200 && io.stderr() === ""; i++) await new Promise((r) => setTimeout(r, 10));
    const line = io.stderr();
    expect(line.trimEnd().split("\n")).toHaveLength(1);
    expect(line).toMatch(
      new RegExp(
        `^vkc s3mock: serving ${dir} at http://127\\.0\\.0\\.1:\\d+ \\(buckets one, two; .*AWS_ACCESS_KEY_ID=dev AWS_SECRET_ACCESS_KEY=<your --secret-key> .*--store s3://one/\\n$`,
      ),
    );
    const url = /at (http:\/\/\S+) /.exec(line)![1]!;
    const store = createS3Store({
      bucket: "two",
      endpoint: url,
      credentials: { accessKeyId: "dev", secretAccessKey: "devsecret" },
      env: {},
    });
    await store.put("k", new Uint8Array([1]));
    expect(await store.has("k")).toBe(true);
    await store.close?.();
    stop.abort();
    expect(await serving).toBe(0);
    expect(io.stdout()).toBe("");
  });

  test("half the credentials, or a bad port, is a usage error", async () => {
    for (const [argv, message] of [
      [["s3mock", "serve", "--access-key", "dev"], /give both --access-key and --secret-key/],
      [["s3mock", "serve", "--port", "70000"], /--port must be a whole number from 0 to 65535/],
    ] as const) {
      const io = captureIO();
      expect(await main(argv, io)).toBe(2);
      expect(io.stderr().trimEnd().split("\n")).toHaveLength(1);
      expect(io.stderr()).toMatch(message);
    }
  });
});
