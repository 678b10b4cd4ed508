import { randomBytes } from "node:crypto";
import { encodeManifest, decodeManifest, type Manifest, IMAGE_FORMAT, IMAGE_FORMAT_MAJOR, IMAGE_FORMAT_MINOR } from "@vkc/checkpoint";
import { draftFor } from "./bench-store.ts";
const n = Number(process.env.N ?? 65536);
const d = draftFor(n);
const { objects: _o, created, ...rest } = d;
const m: Manifest = { ...rest, format: IMAGE_FORMAT, version: { major: IMAGE_FORMAT_MAJOR, minor: IMAGE_FORMAT_MINOR }, created: created!,
  objects: [{ id: 1, kind: "anon", size: n, pages: { indexes: Array.from({ length: n }, (_, i) => i), hashes: new Uint8Array(randomBytes(32 * n)) } }],
  packs: Array.from({ length: n / 1024 }, () => randomBytes(32).toString("hex")).sort() } as Manifest;
for (let r = 0; r < 5; r++) {
  let t = performance.now();
  const e = encodeManifest(m);
  const t1 = performance.now();
  decodeManifest(e.bytes);
  console.log(`encode ${(t1 - t).toFixed(1)} ms, decode ${(performance.now() - t1).toFixed(1)} ms, ${e.bytes.length} bytes`);
}
