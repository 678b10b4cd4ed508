import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createImageStore } from "@vkc/checkpoint";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const THREADS = resolve(import.meta.dirname, "../../../host-kernel/guest/bin/threads.elf");

async function vkc(...argv: string[]) {
  const io = captureIO();
  const status = await main(argv, io);
  const events = io
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status, stderr: io.stderr(), events };
}

const of = (events: Record<string, unknown>[], kind: string) => events.filter((e) => e.event === kind);

function store() {
  const dir = mkdtempSync(join(tmpdir(), "vkc-every-"));
  return { url: `file:${dir}`, images: createImageStore(createFileStore({ root: dir, fsync: false })) };
}

describe("vkc run --checkpoint-every / --keep", () => {
  test("an instruction period checkpoints at each multiple, incrementally; --keep leaves the newest N, restorable", async () => {
    const s = store();
    const whole = await vkc(
      "run",
      "--json",
      "--cpus",
      "2",
      "--console",
      join(tmpdir(), "vkc-every-whole.txt"),
      THREADS,
      "3",
      "20000",
    );
    const exit = of(whole.events, "exit")[0];
    const r = await vkc(
      "run",
      "--json",
      "--cpus",
      "2",
      "--store",
      s.url,
      "--console",
      join(tmpdir(), "vkc-every-run.txt"),
      "--checkpoint-every",
      "500k",
      "--keep",
      "2",
      THREADS,
      "3",
      "20000",
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const checkpoints = of(r.events, "checkpoint");
    const total = Number(exit?.instructions);
    expect(checkpoints.map((c) => c.instructions)).toEqual(
      Array.from({ length: Math.floor((total - 1) / 500_000) }, (_, k) => (k + 1) * 500_000),
    );
    expect(checkpoints[0]?.parent).toBeNull();
    expect(checkpoints.slice(1).map((c) => c.parent)).toEqual(checkpoints.slice(0, -1).map((c) => c.image));
    // Retention: every image but the last two was removed, right after the next-but-one.
    const removed = of(r.events, "removed").map((e) => e.image);
    expect(removed).toEqual(checkpoints.slice(0, -2).map((c) => c.image));
    const left = (await s.images.list()).map((l) => l.id).sort();
    expect(left).toEqual(
      checkpoints
        .slice(-2)
        .map((c) => String(c.image))
        .sort(),
    );
    // The newest image restores (its parent is gone) and ends as the uninterrupted run did.
    const restored = await vkc(
      "restore",
      String(checkpoints.at(-2)?.image),
      "--json",
      "--store",
      s.url,
      "--console",
      join(tmpdir(), "vkc-every-restored.txt"),
    );
    expect(restored.status).toBe(0);
    expect(of(restored.events, "exit")[0]?.digest).toBe(exit?.digest);
  }, 120_000);

  test("a virtual-time period checkpoints once per period, the same way every time", async () => {
    const period = 200_000; // 200us of virtual time
    const runOnce = async () => {
      const s = store();
      const r = await vkc(
        "run",
        "--json",
        "--cpus",
        "2",
        "--store",
        s.url,
        "--console",
        join(tmpdir(), "vkc-every-t.txt"),
        "--checkpoint-every",
        "200us",
        THREADS,
        "3",
        "20000",
      );
      expect(r.status).toBe(0);
      const manifests = await Promise.all(
        of(r.events, "checkpoint").map((c) => s.images.readManifest(String(c.image))),
      );
      return manifests.map((m) => ({ ns: m.clock.ns, instructions: m.clock.instructions }));
    };
    const first = await runOnce();
    expect(first.length).toBeGreaterThan(2);
    first.forEach((c, k) => {
      expect(c.ns).toBeGreaterThanOrEqual((k + 1) * period);
      expect(c.ns).toBeLessThan((k + 2) * period);
    });
    expect(await runOnce()).toEqual(first);
  }, 120_000);

  test("vkc restore takes --checkpoint-every too", async () => {
    const s = store();
    const r = await vkc(
      "run",
      "--json",
      "--store",
      s.url,
      "--console",
      join(tmpdir(), "vkc-every-r.txt"),
      "--checkpoint-at",
      "400000",
      "--exit-after-checkpoint",
      THREADS,
      "3",
      "20000",
    );
    expect(r.status).toBe(0);
    const restored = await vkc(
      "restore",
      "latest",
      "--json",
      "--store",
      s.url,
      "--console",
      join(tmpdir(), "vkc-every-r2.txt"),
      "--checkpoint-every",
      "300k",
    );
    expect(restored.status).toBe(0);
    const at = of(restored.events, "checkpoint").map((c) => c.instructions);
    expect(at.length).toBeGreaterThan(0);
    expect(at[0]).toBe(700_000);
  }, 120_000);

  test.each([["5x"], ["0"], ["1.5s"], ["-3M"]])(
    "--checkpoint-every %s is a usage error with one line",
    async (value) => {
      const r = await vkc("run", "--checkpoint-every", value, THREADS);
      expect(r.status).toBe(2);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(
        /--checkpoint-every takes a virtual duration \(500ms, 5s, 2m\) or an instruction count/,
      );
    },
  );
});
