import { readFileSync, readdirSync } from "node:fs";
import { decodeManifest } from "@vkc/checkpoint";
const dir = "/tmp/c2/img-256/manifests@";
const f = readdirSync(dir)[0]!;
const bytes = new Uint8Array(readFileSync(`${dir}/${f}`));
console.log("bytes", bytes.length);
for (let i = 0; i < 8; i++) { const t = performance.now(); decodeManifest(bytes, { expectedId: f }); console.log((performance.now() - t).toFixed(1)); }
