import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";

const BIN = join(import.meta.dirname, "..", "bin.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

// The demo starts further vkc processes (checkpoint, SIGKILL, restore), so it runs as a real
// OS process here, the way a user starts it.
test("vkc demo runs the tour and every restored run matches the uninterrupted one", () => {
  const r = spawnSync(process.execPath, ["--import", TSX, "--conditions=@vkc/source", BIN, "demo"], {
    encoding: "utf8",
    timeout: 180_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/vkc demo showed:/);
  const restored = r.stdout.split("\n").filter((l) => /restored in a new process/.test(l));
  // vkc run and vkc boot, each from the file store and from the embedded S3 server.
  expect(restored).toHaveLength(4);
  expect(restored.filter((l) => /host instructions \(SIGCKPT\)/.test(l))).toHaveLength(2);
  expect(r.stdout).toMatch(/in the vkernel: exit 0, total \d+, checksum 0x[0-9a-f]+, ok/);
  expect(r.stdout).toMatch(/runs unchanged as a virtual process of a 2-vCPU vkernel/);
  expect(r.stdout).toMatch(/uninterrupted: exit 0, udpping: 3\/3 replies/);
  expect(r.stdout).toMatch(/HTML report of the vkernel image .*\/vkernel\.html$/m);
  for (const line of restored) {
    expect(line).toMatch(/killed with SIGKILL/);
    expect(line).toMatch(/identical to the uninterrupted run/);
  }
}, 200_000);
