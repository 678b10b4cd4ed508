/**
 * The interactive console through a real pseudo-terminal: tmux runs `vkc run` in a pane, the test
 * types with send-keys and reads the screen with capture-pane. Each test polls for what it
 * expects with a generous deadline (a loaded 2-core machine starts node slowly), never a sleep.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createImageStore } from "@vkc/checkpoint";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../../..");
const GUEST = join(ROOT, "packages/host-kernel/guest/bin");
const SOCKET = `vkc-console-test-${process.pid}`;
const DEADLINE_MS = 40_000;

function tmux(...args: string[]): string {
  return execFileSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8", timeout: 10_000 });
}

function hasTmux(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let counter = 0;

/** A pane running bash, in `dir`, with the store in `dir/store`. */
function openPane(dir: string): string {
  const name = `t${counter++}`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", "-c", dir, "bash --norc --noprofile");
  return name;
}

function screen(pane: string): string {
  return tmux("capture-pane", "-p", "-J", "-t", pane);
}

async function waitFor(pane: string, pattern: RegExp): Promise<RegExpMatchArray> {
  const until = Date.now() + DEADLINE_MS;
  for (;;) {
    const match = pattern.exec(screen(pane));
    if (match) return match;
    if (Date.now() > until) {
      throw new Error(`pane never showed ${pattern}; it shows:\n${screen(pane)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Type the command line that saves the terminal mode, runs vkc, prints its exit status and
 * whether the mode came back the same.
 */
function runVkc(pane: string, dir: string, args: string, preload = ""): void {
  const imports = preload === "" ? "--import tsx" : `--import tsx --import ${preload}`;
  const vkc = `node ${imports} --conditions=@vkc/source ${join(ROOT, "packages/cli/src/bin.ts")}`;
  const line =
    `cd ${ROOT}; before=$(stty -g); VKC_STORE=file:${dir}/store sh -c 'echo $$ > ${dir}/pid; exec ${vkc} ${args}'; ` +
    `echo "EXIT=$?"; [ "$(stty -g)" = "$before" ] && echo MODE=same || echo MODE=changed`;
  tmux("send-keys", "-t", pane, "-l", line);
  tmux("send-keys", "-t", pane, "Enter");
}

async function latestManifest(dir: string) {
  const blobs = createFileStore({ root: join(dir, "store") });
  const images = createImageStore(blobs);
  return images.readManifest("latest");
}

describe("vkc run on a terminal (tmux)", () => {
  beforeAll(() => {
    if (!hasTmux()) {
      throw new Error("tmux is missing: install it (apt-get install -y tmux, or scripts/install-tools.sh)");
    }
  });
  afterAll(() => {
    try {
      tmux("kill-server");
    } catch {
      // no server was started
    }
  });

  test("keys reach the guest live, and its raw mode leaves the host terminal as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `run ${GUEST}/ttyraw.elf`);
    await waitFor(pane, /ttyraw: raw mode on/);
    tmux("send-keys", "-t", pane, "-l", "ab");
    await waitFor(pane, /key 2: 0x62 'b'/);
    tmux("send-keys", "-t", pane, "C-c"); // raw mode on the host too: ^C is a byte for the guest
    await waitFor(pane, /key 3: 0x03/);
    tmux("send-keys", "-t", pane, "-l", "q");
    await waitFor(pane, /EXIT=0\s+MODE=same/);
    expect(screen(pane)).toMatch(/4 key\(s\), checksum 0x[0-9a-f]{8}, ended by 'q', mode restored/);
  }, 90_000);

  test("^E writes a checkpoint with one line on stderr, a resize reaches the guest, ^] q quits with 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `run ${GUEST}/sigckpt.elf 2000000000`);
    await waitFor(pane, /send SIGCKPT/);
    tmux("send-keys", "-t", pane, "C-e");
    const [, id] = await waitFor(pane, /vkc: checkpoint ([0-9a-f]{12}) written to file:\S+\/store/);
    await waitFor(pane, /sigckpt: checkpoint written, continuing/);
    const first = await latestManifest(dir);
    expect(first.integrity?.digest?.startsWith(id ?? "-")).toBe(true);

    tmux("resize-window", "-t", pane, "-x", "120", "-y", "40");
    // The size is in the next image's tty state (the guest's view: TIOCGWINSZ reads it).
    const deadline = Date.now() + DEADLINE_MS;
    let winsize: unknown;
    for (;;) {
      tmux("send-keys", "-t", pane, "C-e");
      const [, next] = await waitFor(pane, new RegExp(`checkpoint (?!${id})([0-9a-f]{12}) written`));
      const manifest = await latestManifest(dir);
      expect(manifest.integrity?.digest?.startsWith(next ?? "-")).toBe(true);
      const host = manifest.extensions?.hostKernel as { tty?: { winsize?: number[] } } | undefined;
      winsize = host?.tty?.winsize?.slice(0, 2);
      if (JSON.stringify(winsize) === "[40,120]" || Date.now() > deadline) break;
    }
    expect(winsize).toEqual([40, 120]);

    tmux("send-keys", "-t", pane, "C-]", "q");
    await waitFor(pane, /EXIT=130\s+MODE=same/);
    expect(screen(pane)).toMatch(/vkc: quit \(exit status 130\)/);

    // vkc restore attaches the same way: the thawed guest runs on, and ^] q ends it again.
    tmux("send-keys", "-t", pane, "clear", "Enter");
    await waitFor(pane, /^\S*# $/m);
    runVkc(pane, dir, "restore latest");
    await waitFor(pane, /sigckpt: SIGTHAW: this process was thawed/);
    tmux("send-keys", "-t", pane, "C-]", "q");
    await waitFor(pane, /EXIT=130\s+MODE=same/);
  }, 120_000);

  test("vkc boot: keys reach a guest inside the vkernel, ^E checkpoints the whole vkernel, restore attaches", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `boot --vcpus 2 -- ${GUEST}/ttyraw.elf`);
    await waitFor(pane, /ttyraw: raw mode on/);
    tmux("send-keys", "-t", pane, "-l", "a");
    await waitFor(pane, /key 1: 0x61 'a'/);
    tmux("send-keys", "-t", pane, "C-e");
    const [, id] = await waitFor(pane, /vkc: checkpoint ([0-9a-f]{12}) written to file:\S+\/store/);
    const manifest = await latestManifest(dir);
    expect(manifest.integrity?.digest?.startsWith(id ?? "-")).toBe(true);
    expect((manifest.extensions?.vkcCli as { vkernel?: unknown } | undefined)?.vkernel).toBeDefined();
    tmux("send-keys", "-t", pane, "-l", "b");
    await waitFor(pane, /key 2: 0x62 'b'/);
    tmux("send-keys", "-t", pane, "C-]", "q");
    await waitFor(pane, /EXIT=130\s+MODE=same/);

    // The restored vkernel resumes at the checkpoint: the guest has seen one key, and ends on 'q'.
    tmux("send-keys", "-t", pane, "clear", "Enter");
    await waitFor(pane, /^\S*# $/m);
    runVkc(pane, dir, "restore latest");
    tmux("send-keys", "-t", pane, "-l", "zq");
    await waitFor(pane, /key 2: 0x7a 'z'/);
    await waitFor(pane, /EXIT=0\s+MODE=same/);
    expect(screen(pane)).toMatch(/ttyraw: 3 key\(s\), checksum 0x[0-9a-f]{8}, ended by 'q', mode restored/);
  }, 120_000);

  test("SIGTERM restores the terminal and exits 143", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `run ${GUEST}/ttyraw.elf`);
    await waitFor(pane, /ttyraw: raw mode on/);
    const pid = Number(readFileSync(join(dir, "pid"), "utf8").trim());
    process.kill(pid, "SIGTERM");
    await waitFor(pane, /EXIT=143\s+MODE=same/);
  }, 90_000);

  test("an error while attached (--max-instructions reached) is one line, exit 1, the terminal as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `run --max-instructions 3000000 ${GUEST}/sigckpt.elf 2000000000`);
    await waitFor(pane, /EXIT=1\s+MODE=same/);
    expect(screen(pane)).toMatch(
      /vkc: .*sigckpt\.elf: stopped after \d+ instructions \(--max-instructions\)/,
    );
  }, 90_000);

  test("a crash while attached (an uncaught exception) still leaves the terminal as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    const crash = join(import.meta.dirname, "__fixtures__/crash-when-raw.mjs");
    runVkc(pane, dir, `run ${GUEST}/ttyraw.elf`, crash);
    await waitFor(pane, /EXIT=1\s+MODE=same/);
    expect(screen(pane)).toMatch(/simulated crash while attached/);
  }, 90_000);

  test("vkc boot: SIGINT sent to vkc restores the terminal and exits 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-console-"));
    const pane = openPane(dir);
    runVkc(pane, dir, `boot -- ${GUEST}/ttyraw.elf`);
    await waitFor(pane, /ttyraw: raw mode on/);
    const pid = Number(readFileSync(join(dir, "pid"), "utf8").trim());
    process.kill(pid, "SIGINT");
    await waitFor(pane, /EXIT=130\s+MODE=same/);
  }, 90_000);
});
