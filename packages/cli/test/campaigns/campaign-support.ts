import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type BlobStore, createImageStore, type ImageStore } from "@vkc/checkpoint";
import { sampleDraft, samplePages } from "./campaign-images.ts";

/**
 * Shared helpers of the reliability campaigns: seeds, figures, temp dirs, the sample image
 * draft, and child processes (writers and S3 servers) that a test can SIGKILL.
 */

/** The campaign seed: `VKC_CAMPAIGN_SEED`, else a fixed one so CI runs are reproducible. */
export const SEED = Number(process.env.VKC_CAMPAIGN_SEED ?? 20261128) >>> 0;

/** Prints one figure line of a campaign, e.g. `[campaign] fuzz manifest: 2000 inputs`. */
export function figure(campaign: string, text: string): void {
  console.log(`[campaign] ${campaign}: ${text} (seed ${SEED})`);
}

/**
 * Where campaign stores live: /dev/shm when there is one (the S3 server fsyncs every object,
 * and a kill -9 of a process, unlike a power cut, does not need the disk), else the temp dir.
 */
let scratch: string | undefined;
async function scratchRoot(): Promise<string> {
  if (scratch === undefined) {
    scratch = await access("/dev/shm", constants.W_OK).then(
      () => "/dev/shm",
      () => tmpdir(),
    );
  }
  return scratch;
}

/** A fresh temporary directory; `cleanupDirs()` removes every one made so far. */
const dirs: string[] = [];
export async function tempDir(tag: string): Promise<string> {
  const dir = await mkdtemp(join(await scratchRoot(), `vkc-campaign-${tag}-`));
  dirs.push(dir);
  return dir;
}
export async function cleanupDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** splitmix32: the campaigns' own seeded PRNG (for kill points and damage choices). */
export function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 0x1_0000_0000;
  };
}

/** Reads every page of `id` (readPages checks each hash) and returns how many it read. */
export async function readAllPages(images: ImageStore, id: string): Promise<number> {
  let n = 0;
  for await (const page of images.readPages(id)) {
    if (page.bytes.length !== 4096)
      throw new Error(`page ${page.objectId}/${page.pageIndex} of ${id} is short`);
    n++;
  }
  return n;
}

export { createImageStore, sampleDraft, samplePages };

export const CLI_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCRIPTS = fileURLToPath(new URL("./scripts/", import.meta.url));

/** A child process running one of the campaign scripts, with its stdout lines collected. */
export interface Child {
  readonly pid: number;
  readonly lines: string[];
  /** Resolves with the first stdout line that starts with `prefix`. */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `node --import tsx --conditions=@vkc/source scripts/<script> args` (node itself, not
 * the tsx launcher, so SIGKILL hits the process that writes).
 */
export function startChild(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@vkc/source", join(SCRIPTS, script), ...args],
    {
      cwd: CLI_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  let err = "";
  proc.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8");
  });
  createInterface({ input: proc.stdout }).on("line", (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (line.startsWith(w.prefix)) w.resolve(line);
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: proc.pid ?? -1,
    lines,
    exited,
    stderr: () => err,
    kill: (signal = "SIGKILL") => {
      proc.kill(signal);
    },
    waitFor(prefix, timeoutMs = 20_000) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `child ${script} printed no '${prefix}' line in ${timeoutMs} ms; stderr: ${err.trim()}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          prefix,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child ${script} exited before printing '${prefix}'; stderr: ${err.trim()}`));
        });
      });
    },
  };
}

/** Ids printed by a writer as `committed <id>` lines. */
export function committedIds(child: Child): string[] {
  return child.lines.filter((l) => l.startsWith("committed ")).map((l) => l.slice("committed ".length));
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every key of `blobs` under `prefix`. */
export async function listKeys(blobs: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of blobs.list(prefix)) keys.push(key);
  return keys;
}
