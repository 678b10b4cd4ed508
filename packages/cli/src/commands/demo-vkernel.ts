import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GuestProgram, guestProgramPath } from "@vkc/host-kernel";
import { CliError } from "../errors.ts";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { type CrashRestoreReport, killAndRestore } from "./demo-ckpt.ts";

/** One in-process `vkc boot`: its console output, exit status and host instruction count. */
export interface BootRun {
  readonly output: string;
  readonly status: number | null;
  readonly instructions: number;
  /** Images the run wrote (with `--checkpoint-at`). */
  readonly images: number;
}

/** What the demo boots: vCPUs, more `vkc boot` flags (`--tap`), and the guests in order. */
export interface BootSpec {
  readonly vcpus: number;
  readonly flags?: readonly string[];
  readonly guests: readonly { readonly name: GuestProgram; readonly args: readonly string[] }[];
}

/** The `vkc boot` words for `spec`, with `options` before the first `--`. */
export function bootWords(spec: BootSpec, options: readonly string[] = []): string[] {
  return [
    "boot",
    "--vcpus",
    String(spec.vcpus),
    ...(spec.flags ?? []),
    ...options,
    ...spec.guests.flatMap((g) => ["--", guestProgramPath(g.name), ...g.args]),
  ];
}

/**
 * Boot `spec` in a vkernel in this process (through the CLI itself) with its console in a file.
 * `checkpointAt` adds `--checkpoint-at N --exit-after-checkpoint` into a scratch store: its output is
 * then what any boot had printed when the vkernel froze at that instant.
 */
export async function bootRun(spec: BootSpec, checkpointAt?: number): Promise<BootRun> {
  const dir = await mkdtemp(join(tmpdir(), "vkc-demo-boot-"));
  try {
    const consoleFile = join(dir, "console.txt");
    const options = ["--json", "--console", consoleFile, "--store", `file:${join(dir, "store")}`];
    if (checkpointAt !== undefined)
      options.push("--checkpoint-at", String(checkpointAt), "--exit-after-checkpoint");
    const io = captureIO();
    const status = await main(bootWords(spec, options), io);
    const events = io
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { event: string; status?: number | null; instructions?: number });
    const exit = events.find((e) => e.event === "exit");
    if (exit === undefined && checkpointAt === undefined) {
      throw new CliError(
        "DEMO_FAILED",
        `vkc boot (${spec.guests.map((g) => g.name).join(", ")}) failed: ${io.stderr().trim().split("\n").pop() ?? ""}`,
      );
    }
    return {
      output: (await readFile(consoleFile, "utf8").catch(() => "")).replaceAll("\r\n", "\n"),
      status: exit?.status ?? (status === 0 ? null : status),
      instructions: exit?.instructions ?? 0,
      images: events.filter((e) => e.event === "checkpoint").length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Checkpoint a vkernel booted in a new vkc process at `at` host instructions (SIGCKPT: it runs its
 * own protocol), SIGKILL that process once the image is committed, restore the image in another
 * new vkc process, and compare with `reference`: the output up to the freeze (a boot that exits at
 * the same checkpoint) plus the restored output, and the exit status.
 */
export function vkernelKillRestore(
  spec: BootSpec,
  at: number,
  store: (dir: string) => string,
  reference: BootRun,
): Promise<CrashRestoreReport> {
  return killAndRestore(
    {
      command: (consoleFile) => bootWords(spec, ["--checkpoint-at", String(at), "--console", consoleFile]),
      prefix: async (t) => (await bootRun(spec, t)).output,
      reference: { output: reference.output, status: reference.status },
    },
    at,
    store,
  );
}
