import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const MEMTOUCH = resolve(import.meta.dirname, "../../../host-kernel/guest/bin/memtouch.elf");

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

describe("vkc run --precopy", () => {
  test("checkpoints over a live pre-copy report their pause, and restore like any image", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-precopy-"));
    const store = `file:${dir}/store`;
    // Long enough (a second or two) for the pre-copy rounds to run beside the guest.
    const args = [MEMTOUCH, "2", "30", "800"];
    const whole = await vkc("run", "--json", "--console", join(dir, "whole.txt"), ...args);
    const end = of(whole.events, "exit")[0]!;
    const at = Math.floor((end.instructions as number) * 0.8);

    const r = await vkc(
      "run",
      "--json",
      "--precopy",
      "--store",
      store,
      "--console",
      join(dir, "run.txt"),
      "--checkpoint-at",
      String(at),
      ...args,
    );
    expect(r.status).toBe(0);
    const [ckpt] = of(r.events, "checkpoint");
    expect(ckpt).toMatchObject({ parent: null, instructions: at });
    expect(typeof ckpt!.pauseMs).toBe("number");
    expect(ckpt!.precopyRounds).toBeGreaterThan(0); // it copied while the guest ran
    expect(of(r.events, "exit")[0]).toMatchObject({ digest: end.digest, instructions: end.instructions });
    expect(readFileSync(join(dir, "run.txt"), "utf8")).toBe(readFileSync(join(dir, "whole.txt"), "utf8"));

    const back = await vkc(
      "restore",
      "--json",
      "--store",
      store,
      "--console",
      join(dir, "back.txt"),
      String(ckpt!.image),
    );
    expect(back.status).toBe(0);
    expect(of(back.events, "exit")[0]).toMatchObject({ digest: end.digest, instructions: end.instructions });
  }, 60_000);
});
