import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKernel, type GuestProgram, guestProgram, guestProgramPath } from "@vkc/host-kernel";
import { CliError } from "../errors.ts";

/** One uninterrupted in-process run, the reference a restored run must match. */
export interface ReferenceRun {
  output: string;
  status: number | null;
  instructions: number;
  digest: string;
}

export async function referenceRun(
  name: GuestProgram,
  args: readonly string[],
  cpus: number,
  seed: number,
  stopAt?: number,
): Promise<ReferenceRun> {
  const elf = guestProgram(name);
  const chunks: Uint8Array[] = [];
  // The same guest path and argv[0] as `vkc run <dir>/NAME.elf` gives the program.
  const path = `/bin/${name}.elf`;
  const kernel = createKernel({
    cpus,
    seed,
    console: { write: (b) => chunks.push(b.slice()) },
    files: { [path]: elf },
  });
  kernel.spawn({ path, elf, argv: [path, ...args] });
  const result = await kernel.run(stopAt === undefined ? {} : { stopAt });
  return {
    output: Buffer.concat(chunks).toString().replaceAll("\r\n", "\n"),
    status: result.exitStatus,
    instructions: result.instructions,
    digest: result.digest,
  };
}

/** The command line that runs this very vkc again (from sources under tsx, or built). */
function vkcCommand(): { command: string; prefix: string[] } {
  const script = process.argv[1];
  if (script === undefined) throw new CliError("DEMO_FAILED", "cannot tell how vkc was started");
  return { command: process.execPath, prefix: [...process.execArgv, script] };
}

interface JsonEvent {
  event: string;
  [field: string]: unknown;
}

/** Start vkc with `args`; `onEvent` sees each --json line of its stdout as it comes. */
function startVkc(args: string[], onEvent: (e: JsonEvent, child: ChildProcess) => void) {
  const { command, prefix } = vkcCommand();
  const child = spawn(command, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
    let nl = stdout.indexOf("\n");
    while (nl >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      if (line.startsWith("{")) onEvent(JSON.parse(line) as JsonEvent, child);
      nl = stdout.indexOf("\n");
    }
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ code, signal, stderr }));
    },
  );
  return { child, done };
}

export interface CrashRestoreReport {
  store: string;
  checkpointAt: number;
  image: string;
  killed: boolean;
  restoredStatus: number | null;
  restoredDigest: string;
  matches: boolean;
}

/** What `checkpointKillRestore` runs and compares against. */
export interface KillRestoreCase {
  /** vkc's words for the first process (it gets `--json --store URL` first, the console file after). */
  readonly command: (consoleFile: string) => string[];
  /** The guest console output up to the checkpoint: what the killed process had printed by then. */
  readonly prefix: (checkpointAt: number) => Promise<string>;
  /** The uninterrupted run; its digest is compared when it has one. */
  readonly reference: { readonly output: string; readonly status: number | null; readonly digest?: string };
}

/**
 * Run `name` in a separate vkc process with a checkpoint at `at` instructions, SIGKILL that
 * process as soon as the image is committed, restore the image in another new vkc process, and
 * check that the console output, exit status and final machine state equal an uninterrupted run.
 */
export async function checkpointKillRestore(
  name: GuestProgram,
  args: readonly string[],
  cpus: number,
  seed: number,
  at: number,
  store: (dir: string) => string,
  reference: ReferenceRun,
): Promise<CrashRestoreReport> {
  return killAndRestore(
    {
      command: (consoleFile) => [
        "run",
        "--cpus",
        String(cpus),
        "--seed",
        String(seed),
        "--checkpoint-at",
        String(at),
        "--console",
        consoleFile,
        guestProgramPath(name),
        ...args,
      ],
      prefix: async () => (await referenceRun(name, args, cpus, seed, at)).output,
      reference,
    },
    at,
    store,
  );
}

/**
 * The general form: start vkc with `c.command`, SIGKILL it once its first image is committed,
 * restore that image in a new vkc process, and compare prefix + restored output, exit status
 * (and digest, when the reference has one) with the uninterrupted run.
 */
export async function killAndRestore(
  c: KillRestoreCase,
  at: number,
  store: (dir: string) => string,
): Promise<CrashRestoreReport> {
  const dir = await mkdtemp(join(tmpdir(), "vkc-demo-"));
  try {
    const storeUrl = store(dir);
    const common = ["--json", "--store", storeUrl];
    let image: string | undefined;
    let imageAt = at;
    let killed = false;
    const [command, ...rest] = c.command(join(dir, "first.txt"));
    const first = startVkc([command ?? "run", ...common, ...rest], (event, child) => {
      if (event.event === "checkpoint" && image === undefined) {
        image = String(event.image);
        imageAt = Number(event.instructions);
        killed = child.kill("SIGKILL");
      }
    });
    const firstEnd = await first.done;
    if (image === undefined) {
      throw new CliError(
        "DEMO_FAILED",
        `the first run wrote no checkpoint: ${firstEnd.stderr.trim().split("\n").pop() ?? ""}`,
      );
    }

    let exit: JsonEvent | undefined;
    const restored = startVkc(
      ["restore", ...common, "--console", join(dir, "restored.txt"), image],
      (event) => {
        if (event.event === "exit") exit = event;
      },
    );
    const restoredEnd = await restored.done;
    if (exit === undefined) {
      throw new CliError(
        "DEMO_FAILED",
        `restore failed: ${restoredEnd.stderr.trim().split("\n").pop() ?? ""}`,
      );
    }
    const prefix = await c.prefix(at);
    const restoredOutput = (await readFile(join(dir, "restored.txt"), "utf8")).replaceAll("\r\n", "\n");
    const matches =
      prefix + restoredOutput === c.reference.output &&
      exit.status === c.reference.status &&
      (c.reference.digest === undefined || exit.digest === c.reference.digest);
    return {
      store: storeUrl.replace(dir, "$TMP"),
      checkpointAt: imageAt,
      image,
      killed: killed && firstEnd.signal === "SIGKILL",
      restoredStatus: (exit.status as number | null) ?? null,
      restoredDigest: String(exit.digest),
      matches,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
