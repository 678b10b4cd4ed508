import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedS3, startEmbeddedS3 } from "@vkc/backend-s3mock";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { writeSampleImages } from "../stores/__fixtures__/sample-images.ts";

async function vkc(...argv: string[]) {
  const io = captureIO();
  const status = await main(argv, io);
  return { status, stdout: io.stdout(), stderr: io.stderr() };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "vkc-images-s3-"));
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let s3: EmbeddedS3;

beforeAll(async () => {
  s3 = await startEmbeddedS3({ dir: tempDir() });
});

afterAll(async () => {
  await s3.close();
});

function useS3Credentials(): void {
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.credentials.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.credentials.secretAccessKey);
  vi.stubEnv("AWS_REGION", s3.region);
  vi.stubEnv("AWS_ENDPOINT_URL", "");
  vi.stubEnv("AWS_ENDPOINT_URL_S3", "");
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("vkc images on S3", () => {
  test("copy from file: to s3 and back, verifying on each side", async () => {
    useS3Credentials();
    const source = `file:${tempDir()}`;
    const ids = await writeSampleImages(source);
    const remote = "s3://vkc/roundtrip";

    const up = await vkc(
      "images",
      "copy",
      "latest",
      "--json",
      "--to",
      remote,
      "--s3-endpoint",
      s3.url,
      "--store",
      source,
    );
    expect(up.stderr).toBe("");
    expect(up.status).toBe(0);
    expect(jsonLines(up.stdout)[0]).toMatchObject({
      event: "copy",
      images: [ids.base, ids.child],
      packsCopied: 2,
      tag: "latest", // IMAGE was the ref latest: the target gets it too
    });

    // the endpoint can also come from the standard variable
    vi.stubEnv("AWS_ENDPOINT_URL", s3.url);
    const verify = await vkc("images", "verify", "--store", remote);
    expect(verify.status).toBe(0);
    expect(verify.stdout).toBe(`ok: 2 images, 2 packs, 14 pages, 0 blobs verified in ${remote}\n`);

    const ls = await vkc("images", "ls", "--json", "--store", remote);
    expect(jsonLines(ls.stdout).map((e) => [e.id, e.depth, e.refs])).toEqual([
      [ids.base, 0, []],
      [ids.child, 1, ["latest"]],
    ]);
    expect((await vkc("images", "tag", "latest", ids.child.slice(0, 8), "--store", remote)).status).toBe(0);

    const back = `file:${tempDir()}`;
    const down = await vkc("images", "copy", "latest", "--tag", "restored", "--to", back, "--store", remote);
    expect(down.status).toBe(0);
    expect(down.stdout).toMatch(
      /^copied 2 images .*, 2 packs \(1 skipped\), 0 blobs, \d+ KiB to file:.* \(tagged restored\)\n$/,
    );
    expect((await vkc("images", "show", "restored", "--store", back)).status).toBe(0);
    const again = await vkc("images", "verify", "--json", "--store", back);
    expect(jsonLines(again.stdout)).toEqual([
      expect.objectContaining({ event: "verify", ok: true, images: 2 }),
    ]);
    const show = await vkc("images", "show", ids.child, "--no-regs", "--store", back);
    expect(show.stdout).toMatch(/16 pages: 8 resident, 8 zero, 6 shared, 2 new/);
  });

  test("an S3 endpoint that refuses connections is one line naming the endpoint, exit 1", async () => {
    useS3Credentials();
    const port = await closedPort();
    const r = await vkc("images", "ls", "--store", "s3://vkc/x", "--s3-endpoint", `http://127.0.0.1:${port}`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `vkc: cannot reach S3 endpoint http://127.0.0.1:${port} for store s3://vkc/x: connection refused (ECONNREFUSED)\n`,
    );
  });

  test("wrong credentials are one line, exit 1", async () => {
    useS3Credentials();
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    const r = await vkc("images", "ls", "--store", "s3://vkc/", "--s3-endpoint", s3.url);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^vkc: s3:\/\/vkc: list (refs|manifests)\/ failed: .*(SignatureDoesNotMatch|AccessDenied)/,
    );
  });
});

describe("the s3mock: scheme", () => {
  test("starts vkc's S3 server in-process on a directory, for one command at a time", async () => {
    const source = `file:${tempDir()}`;
    const ids = await writeSampleImages(source);
    const dir = tempDir();
    const copy = await vkc("images", "copy", ids.other, "--store", source, "--to", `s3mock:${dir}`);
    expect(copy.status).toBe(0);
    expect(copy.stdout).toMatch(/^copied 1 image /);

    // a later command starts a fresh server on the same directory and finds the image there
    const ls = await vkc("images", "ls", "--json", "--store", `s3mock:${dir}`);
    expect(ls.status).toBe(0);
    expect(jsonLines(ls.stdout).map((e) => e.id)).toEqual([ids.other]);
    const verify = await vkc("images", "verify", "--store", `s3mock:${dir}`);
    expect(verify.stdout).toMatch(/^ok: 1 image, 1 pack, 12 pages/);
  });
});
