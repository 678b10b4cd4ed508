import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestProgramPath } from "@vkc/host-kernel";
import { describe, expect, test } from "vitest";
import { jsonLines } from "../../test/campaigns/campaign-cli.ts";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

/**
 * `vkc run --checkpoint-at` of a program that forks checkpoints its whole process tree
 * (host-kernel CHECKPOINT.md "Process trees"), and `vkc restore` finishes it as one run does:
 * the children, their pipes and the parent's waitid come back.
 */

describe("vkc run --checkpoint-at … forkdemo, then vkc restore", () => {
  test("the process tree is checkpointed and restored: same console, status and digest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-fork-"));
    const forkdemo = guestProgramPath("forkdemo");
    const common = ["--json", "--cpus", "2", "--seed", "5"];
    const whole = captureIO();
    const all = join(dir, "whole.txt");
    expect(await main(["run", ...common, "--console", all, forkdemo, "3"], whole)).toBe(0);
    const end = jsonLines(whole.stdout()).find((e) => e.event === "exit");
    expect(end).toMatchObject({ reason: "exited", status: 0 });

    // Half-way: the parent has forked its workers (and waits for them in waitid).
    const at = Math.floor(Number(end?.instructions) / 2);
    const store = `file:${join(dir, "store")}`;
    const first = captureIO();
    const part1 = join(dir, "part1.txt");
    const runArgs = [...common, "--console", part1, "--store", store, "--checkpoint-at", `${at}`];
    expect(await main(["run", ...runArgs, "--exit-after-checkpoint", forkdemo, "3"], first)).toBe(0);
    expect(jsonLines(first.stdout())[0]).toMatchObject({ event: "checkpoint", instructions: at });

    const shown = captureIO();
    expect(await main(["images", "show", "latest", "--store", store, "--json"], shown)).toBe(0);
    const image = jsonLines(shown.stdout())[0] as { registers: { pid: number }[] };
    expect(new Set(image.registers.map((r) => r.pid)).size).toBeGreaterThan(1); // the children too

    const second = captureIO();
    const part2 = join(dir, "part2.txt");
    expect(await main(["restore", "latest", "--json", "--store", store, "--console", part2], second)).toBe(0);
    const exit = jsonLines(second.stdout()).find((e) => e.event === "exit");
    expect(exit).toMatchObject({ reason: "exited", status: 0, instructions: end?.instructions });
    expect(exit?.digest).toBe(end?.digest);
    expect(readFileSync(part1, "utf8") + readFileSync(part2, "utf8")).toBe(readFileSync(all, "utf8"));
  }, 60_000);
});
