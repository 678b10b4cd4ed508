import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKernel, guestProgramPath } from "@vkc/host-kernel";
import { describe, expect, test } from "vitest";
import { LazyStoreTarget } from "../commands/run.ts";
import { captureIO } from "../io-capture.ts";
import { expectedWriteBytes } from "./write-meter.ts";

const ERASE = "\u001b[K";

/** A kernel running threads.elf, stopped after 20000 instructions, and a target on a fresh store. */
async function stoppedRun(notices: { notice(text: string): void } | null = null) {
  const path = guestProgramPath("threads");
  const elf = new Uint8Array(readFileSync(path));
  const io = captureIO();
  const store = `file:${join(mkdtempSync(join(tmpdir(), "vkc-write-meter-")), "store")}`;
  const target = new LazyStoreTarget({ store }, io, { "/bin/threads.elf": path }, notices);
  const kernel = createKernel({ cpus: 1, console: { write: () => {} }, files: { "/bin/threads.elf": elf } });
  const pid = kernel.spawn({ path: "/bin/threads.elf", elf, argv: ["threads.elf", "2", "200"] });
  await kernel.run({ stopAt: 20_000 });
  return { io, target, kernel, pid };
}

describe("progress of a checkpoint being written", () => {
  test("on a terminal: a 'write' line with bytes on stderr, erased at the end; nothing on stdout", async () => {
    const { io, target, kernel, pid } = await stoppedRun();
    target.meter = { stderr: { isTTY: true }, env: {} };
    // The first checkpoint opens the store; the second is metered with the store open.
    await target.checkpoint(kernel, pid);
    await kernel.run({ stopAt: 40_000 });
    await target.checkpoint(kernel, pid);
    await target.close();
    expect(io.stdout()).toBe("");
    // Each redraw and the checkpoint's own line start by erasing the line (ESC [ K).
    const lines = io.stderr().split(`\r${ERASE}`);
    // With the tree's dirty pages as its total: a bar, how much of it, and a percentage.
    expect(
      lines.some((l) => /^write: \[[#.]+\] [0-9.]+ (B|KiB|MiB) of [0-9.]+ (KiB|MiB) \(\d+%\)/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /^vkc: checkpoint [0-9a-f]{12} of pid 1 at 40000 instructions/.test(l))).toBe(
      true,
    );
    expect(io.stderr().endsWith(`\r${ERASE}`)).toBe(true);
  });

  test("off a terminal, a quick write prints only its one checkpoint line", async () => {
    const { io, target, kernel, pid } = await stoppedRun();
    target.meter = { stderr: { isTTY: false }, env: {} };
    await target.checkpoint(kernel, pid);
    await kernel.run({ stopAt: 40_000 });
    await target.checkpoint(kernel, pid);
    await target.close();
    expect(io.stderr().trimEnd().split("\n")).toHaveLength(2);
    expect(io.stderr()).not.toMatch(/write:/);
  });

  test("under the interactive console nothing is drawn: the screen is the guest's", async () => {
    const notices: string[] = [];
    const { io, target, kernel, pid } = await stoppedRun({ notice: (t) => notices.push(t) });
    target.meter = { stderr: { isTTY: true }, env: {} };
    await target.checkpoint(kernel, pid);
    await kernel.run({ stopAt: 40_000 });
    await target.checkpoint(kernel, pid);
    await target.close();
    expect(io.stderr()).toBe("");
    expect(notices).toHaveLength(2);
  });

  test("the meter's total: resident pages of the tree for a full image, dirty ones for an incremental", async () => {
    const { target, kernel, pid } = await stoppedRun();
    const full = expectedWriteBytes(kernel, pid, false);
    expect(full).toBeGreaterThan(0);
    expect(full % 4096).toBe(0);
    await target.checkpoint(kernel, pid);
    await target.close();
    // The checkpoint cleared the dirty bits: an incremental image now would write nothing new.
    expect(expectedWriteBytes(kernel, pid, true)).toBe(0);
    await kernel.run({ stopAt: 40_000 });
    const incremental = expectedWriteBytes(kernel, pid, true);
    expect(incremental).toBeGreaterThan(0);
    expect(incremental).toBeLessThanOrEqual(full);
  });
});
