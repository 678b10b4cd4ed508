import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createImageStore, createMemoryStore, type ImageStore } from "@vkc/checkpoint";
import { expect } from "vitest";
import { createKernel, type Kernel, type KernelOptions, type RunResult } from "../kernel.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import type { CheckpointWritten } from "./ckpt-types.ts";
import { thawProcess } from "./thaw.ts";

/** Test helpers for freeze/thaw: guest programs, recorded consoles, memory image stores. */

export const GUEST_BIN = join(import.meta.dirname, "..", "..", "guest", "bin");

const elfCache = new Map<string, Uint8Array>();
export function guestElf(program: string): Uint8Array {
  let elf = elfCache.get(program);
  if (elf === undefined) {
    elf = new Uint8Array(readFileSync(join(GUEST_BIN, `${program}.elf`)));
    elfCache.set(program, elf);
  }
  return elf;
}

export interface GuestRun {
  readonly kernel: Kernel;
  readonly chunks: Uint8Array[];
  readonly written: CheckpointWritten[];
}

export function memoryImages(): ImageStore {
  return createImageStore(createMemoryStore());
}

/** A kernel running `program` with a recorded console; with `images`, a checkpoint target too. */
export function startGuest(
  program: string,
  args: readonly string[],
  options: KernelOptions = {},
  images?: ImageStore,
  chunks: Uint8Array[] = [],
): GuestRun {
  const written: CheckpointWritten[] = [];
  const path = `/bin/${program}`;
  const elf = guestElf(program);
  const kernel = createKernel({
    ...options,
    console: { write: (b) => chunks.push(b.slice()) },
    files: { [path]: elf },
    ...(images !== undefined
      ? { checkpointTarget: createStoreTarget(images, { onWritten: (w) => written.push(w) }) }
      : {}),
  });
  kernel.spawn({ path, argv: [program, ...args] });
  return { kernel, chunks, written };
}

export function text(chunks: readonly Uint8Array[]): string {
  return Buffer.concat(chunks).toString("utf8");
}

/** Thaw `ref` with the program's ELF at its path, recording into `chunks` (output so far). */
export async function thawGuest(
  images: ImageStore,
  ref: string,
  program: string,
  options: KernelOptions & { retval?: number } = {},
  chunks: Uint8Array[] = [],
): Promise<GuestRun> {
  const { kernel } = await thawProcess(images, ref, {
    ...options,
    console: { write: (b) => chunks.push(b.slice()) },
    files: { [`/bin/${program}`]: guestElf(program) },
  });
  return { kernel, chunks, written: [] };
}

export const RUN_LIMIT = 2_000_000_000;

export async function runToEnd(kernel: Kernel): Promise<RunResult> {
  return kernel.run({ maxInstructions: RUN_LIMIT });
}

/** An uninterrupted run's console and result, for the equivalence law. */
export interface WholeRun {
  readonly out: string;
  readonly result: RunResult;
}

/** The law's "the same": console bytes, exit status, instruction count and final digest. */
export function expectSameRun(out: string, result: RunResult, whole: WholeRun): void {
  expect(out).toBe(whole.out);
  expect(result.reason).toBe("exited");
  expect(result.exitStatus).toBe(whole.result.exitStatus);
  expect(result.instructions).toBe(whole.result.instructions);
  expect(result.digest).toBe(whole.result.digest);
}
