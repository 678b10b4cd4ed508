import { createS3Server, type S3Server } from "@vkc/backend-s3mock";
import type { BlobStore } from "@vkc/checkpoint";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Cbor, decode, encode } from "./campaign-cbor.ts";
import { jsonLines, vkc } from "./campaign-cli.ts";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS, openSpec } from "./campaign-stores.ts";
import {
  cleanupDirs,
  createImageStore,
  figure,
  sampleDraft,
  samplePages,
  tempDir,
} from "./campaign-support.ts";

/**
 * Authenticity: with a sign key (`--sign-key`, `VKC_SIGN_KEY`), `vkc images show` and `verify`
 * refuse unsigned images, images signed with another key, and images whose body was changed
 * (digest recomputed, signature kept or dropped). The S3 server's own refusals of bad
 * signatures, unknown keys and expired presigned URLs are covered by @vkc/backend-s3mock's
 * server tests; here the CLI's side of it: wrong credentials are one line, exit 1.
 */

const KEY = "campaign-signing-key-0123456789";
type Map = { [key: string]: Cbor };
let dir = "";
let blobs: BlobStore;
let signed = "";
let unsigned = "";
let otherKey = "";
let tampered = "";
let stripped = "";
let refusals = 0;

async function forge(fromId: string, change: (envelope: Map, body: Map) => void): Promise<string> {
  const envelope = decode((await blobs.get(`manifests/${fromId}`)) as Uint8Array) as Map;
  const body = decode(envelope.manifest as Uint8Array) as Map;
  change(envelope, body);
  const bytes = encode(body);
  const { createHash } = await import("node:crypto");
  const digest = createHash("sha256").update(bytes).digest();
  envelope.manifest = bytes;
  envelope.digest = Uint8Array.from(digest);
  const id = digest.toString("hex");
  await blobs.put(`manifests/${id}`, encode(envelope));
  return id;
}

beforeAll(async () => {
  dir = await tempDir("auth");
  blobs = await openSpec(`file:${dir}`);
  signed = (
    await createImageStore(blobs, { signKey: KEY }).writeImage(sampleDraft(1), samplePages(1), { refs: [] })
  ).id;
  unsigned = (await createImageStore(blobs).writeImage(sampleDraft(2), samplePages(2), { refs: [] })).id;
  otherKey = (
    await createImageStore(blobs, { signKey: "another-key" }).writeImage(sampleDraft(3), samplePages(3), {
      refs: [],
    })
  ).id;
  // An attacker without the key: changes the program name, recomputes the digest, keeps the signature.
  tampered = await forge(signed, (_e, body) => {
    ((body.processes as Map[])[0] as Map).comm = "evil";
  });
  // ... or drops the signature altogether.
  stripped = await forge(signed, (envelope, body) => {
    delete envelope.signature;
    ((body.processes as Map[])[0] as Map).argv = ["/bin/evil"];
  });
});
afterAll(async () => {
  delete process.env.VKC_SIGN_KEY;
  await cleanupDirs();
});

const store = () => ["--store", `file:${dir}`];

it("accepts the signed image with the key, by flag and by VKC_SIGN_KEY", async () => {
  expect((await vkc(["images", "show", signed, "--sign-key", KEY, ...store()])).status).toBe(0);
  process.env.VKC_SIGN_KEY = KEY;
  try {
    expect((await vkc(["images", "show", signed, ...store()])).status).toBe(0);
  } finally {
    delete process.env.VKC_SIGN_KEY;
  }
});

it.each([
  ["unsigned", () => unsigned],
  ["signed with another key", () => otherKey],
  ["tampered (signature kept)", () => tampered],
  ["tampered (signature dropped)", () => stripped],
])("refuses an image %s, by flag and by VKC_SIGN_KEY", async (_name, id) => {
  const byFlag = await vkc(["images", "show", id(), "--sign-key", KEY, ...store()]);
  expect(byFlag.status).toBe(1);
  expect(byFlag.out).toBe("");
  expect(byFlag.err.trimEnd().split("\n")).toHaveLength(1);
  expect(byFlag.err).toMatch(/signature|signed/i);
  process.env.VKC_SIGN_KEY = KEY;
  try {
    const byEnv = await vkc(["images", "show", id(), ...store()]);
    expect(byEnv.status).toBe(1);
    expect(byEnv.err).toBe(byFlag.err);
  } finally {
    delete process.env.VKC_SIGN_KEY;
  }
  refusals += 2;
});

it("verify with the key names every unsigned or tampered manifest and breaks nothing else", async () => {
  const run = await vkc(["images", "verify", "--json", "--sign-key", KEY, ...store()]);
  expect(run.status).toBe(1);
  const objects = jsonLines(run.out)
    .filter((e) => e.event === "problem")
    .map((e) => String(e.object));
  for (const id of [unsigned, otherKey, tampered, stripped]) expect(objects.join(" ")).toContain(id);
  expect(objects.join(" ")).not.toContain(signed);
  refusals += 4;
  // Without a key, the tampered images are only as good as their digest: authenticity needs the key.
  expect((await vkc(["images", "show", tampered, ...store()])).status).toBe(0);
});

let server: S3Server | undefined;
afterAll(() => server?.close());

it("an S3 store with wrong or unknown credentials fails with one line", async () => {
  server = await createS3Server({ credentials: [CAMPAIGN_CREDENTIALS], buckets: [CAMPAIGN_BUCKET] });
  const url = ["--store", `s3://${CAMPAIGN_BUCKET}/auth`, "--s3-endpoint", server.url];
  for (const [id, secret, code] of [
    [CAMPAIGN_CREDENTIALS.accessKeyId, "wrong-secret", "SignatureDoesNotMatch"],
    ["AKIDUNKNOWN", CAMPAIGN_CREDENTIALS.secretAccessKey, "InvalidAccessKeyId"],
  ] as const) {
    process.env.AWS_ACCESS_KEY_ID = id;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    const run = await vkc(["images", "ls", ...url]);
    expect(run.status).toBe(1);
    expect(run.err.trimEnd().split("\n")).toHaveLength(1);
    expect(run.err).toContain(code);
    refusals++;
  }
  figure("authenticity", `${refusals} unsigned, tampered or wrongly authenticated accesses refused`);
});
