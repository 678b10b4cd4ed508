import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { type BlobStore, type CborMap, createImageStore, type ImageStore } from "@vkc/checkpoint";
import {
  type CheckpointTarget,
  type CheckpointWritten,
  createKernel,
  createStoreTarget,
  type Kernel,
  type PrecopySession,
  type RunResult,
  type StoreTarget,
} from "@vkc/host-kernel";
import { InteractiveConsole } from "../console/console-session.ts";
import { isInteractive } from "../console/console-terminal.ts";
import { CliError } from "../errors.ts";
import type { CliIO } from "../main.ts";
import { jsonEvent, openConsole } from "../output.ts";
import type { MeterOptions } from "../progress/progress-meter.ts";
import { expectedWriteBytes, meterWrite } from "../progress/write-meter.ts";
import { openStore } from "../stores/store-registry.ts";
import { signKey, storeUrl } from "../stores/store-session.ts";
import type { UdpBridgeSpec } from "./boot-options.ts";
import { vkernelImageMap } from "./boot-vkernel.ts";
import {
  checkRunNetwork,
  type NetSpec,
  openRunNetwork,
  type RunNetwork,
  runNetworkSection,
} from "./run-network.ts";

export interface RunOptions {
  cpus: number;
  seed: number;
  console?: string;
  input?: string;
  json?: boolean;
  maxInstructions?: number;
  /** `--store URL`: where checkpoints go (default `VKC_STORE`, else the data-dir file store). */
  store?: string;
  /** `--checkpoint-at N[,N…]`: checkpoint at these total virtual instruction counts. */
  checkpointAt?: number[];
  /** `--exit-after-checkpoint`: stop vkc after the first `--checkpoint-at` checkpoint. */
  exitAfterCheckpoint?: boolean;
  /** `--checkpoint-every D|N`: checkpoint every D of virtual time or every N instructions. */
  checkpointEvery?: CheckpointEvery;
  /** `--keep N`: keep only this run's N newest images in the store (older ones are removed). */
  keep?: number;
  /** `--embed`: store the executable's bytes with the image. */
  embed?: boolean;
  /** `--precopy`: copy memory while the guest runs, so a checkpoint stops it only for what it dirtied since. */
  precopy?: boolean;
  /** `--net BRIDGE:ADDR/PREFIX`, repeatable: kernel-wide interfaces eth0, eth1, … on host bridges. */
  net?: NetSpec[];
  /** `--udp-bridge HOST:PORT`: real UDP datagrams on HOST:PORT reach the first `--net` address. */
  udpBridge?: UdpBridgeSpec;
}

/** A `--checkpoint-every` period: virtual nanoseconds or retired instructions (both deterministic). */
export type CheckpointEvery = { readonly ns: number } | { readonly instructions: number };

/**
 * How vkc takes a checkpoint of `pid` at an instant it chose (`--checkpoint-at`, `--checkpoint-every`):
 * "continue" keeps the run going, "exit" is the `--exit-after-checkpoint` one. A host process is
 * frozen from outside through the store target; a vkernel must be asked with a signal so it runs
 * its own protocol (see `signalCheckpoints` in boot.ts). Resolves the final result when the method
 * ended the run itself (a vkernel that exits after its checkpoint), else null.
 */
export type CheckpointMethod = (
  kernel: Kernel,
  pid: number,
  mode: "continue" | "exit",
) => Promise<RunResult | null>;

/** The host's method: freeze `pid` now through `target` (virtual time does not move meanwhile). */
export function targetCheckpoints(target: CheckpointTarget): CheckpointMethod {
  return async (kernel, pid, mode) => {
    await target.checkpoint(kernel, pid, { cause: "host" });
    return mode === "exit" ? kernel.result("stopped") : null;
  };
}

/** The smallest run between two looks at the clock for a time period (one default quantum). */
const MIN_TIME_STEP = 10_000;

/** Key of the CLI's section in a manifest's `extensions`: where the executables are on the host. */
export const CLI_EXTENSION = "vkcCli";

/** `vkc run <elf> [args…]`: run a RISC-V program on a fresh host kernel; resolves its exit status. */
export async function run(
  elfPath: string,
  args: readonly string[],
  opts: RunOptions,
  io: CliIO,
): Promise<number> {
  const nets = opts.net ?? [];
  checkRunNetwork(nets, opts.udpBridge);
  const elf = await readHostFile(elfPath, "ELF file");
  const input =
    opts.input === undefined ? undefined : (await readHostFile(opts.input, "input script")).toString();
  const tty = interactiveConsole(opts, io);
  const output = tty?.output ?? openConsole(io, opts.console);
  const guestPath = `/bin/${basename(elfPath)}`;
  const target = new LazyStoreTarget(
    opts,
    tty?.io ?? io,
    { [guestPath]: resolve(elfPath) },
    tty,
    runNetworkSection(nets, opts.udpBridge),
  );
  let network: RunNetwork | null = null;
  try {
    network = await openRunNetwork(nets, opts.udpBridge);
    announceUplink(network, nets, io);
    const kernel = createKernel({
      cpus: opts.cpus,
      seed: opts.seed,
      console: output,
      ...(input === undefined ? {} : { input }),
      ...(tty === null ? {} : { liveInput: true, winsize: tty.winsize() }),
      ...(network.network === undefined ? {} : { network: network.network }),
      files: { [guestPath]: elf },
      checkpointTarget: target,
    });
    const pid = kernel.spawn({ path: guestPath, elf, argv: [guestPath, ...args] });
    if (opts.precopy === true) await target.startPrecopy(kernel, pid);
    const take = targetCheckpoints(target);
    if (tty === null) return await runWithCheckpoints(kernel, pid, take, opts, io, elfPath);
    return await tty.drive(kernel, () => runWithCheckpoints(kernel, pid, take, opts, tty.io, elfPath));
  } finally {
    await output.close();
    await target.close();
    await network?.close();
  }
}

/** One stderr line saying where real UDP clients reach the guest (`--udp-bridge`). */
export function announceUplink(network: RunNetwork, nets: readonly NetSpec[], io: CliIO): void {
  const first = nets[0];
  if (network.uplink === null || first === undefined) return;
  io.err(
    `vkc: UDP bridge on ${network.uplink.address}:${network.uplink.port} → ${first.name} ${first.address}/${first.prefixLength}\n`,
  );
}

/**
 * The interactive console when vkc is attached to a terminal (stdin and stdout are TTYs) and the
 * guest's console is not redirected (`--console`, `--input`, `--json`); null otherwise.
 */
export function interactiveConsole(
  opts: Pick<RunOptions, "console" | "input" | "json">,
  io: CliIO,
): InteractiveConsole | null {
  if (opts.console !== undefined || opts.input !== undefined || opts.json === true) return null;
  const streams = io.tty;
  return isInteractive(streams) ? new InteractiveConsole(streams, io) : null;
}

/**
 * Run `kernel` to the end, stopping at each `--checkpoint-at` instant and each `--checkpoint-every`
 * period to write a checkpoint of `pid` (virtual time does not move while it is written);
 * `--exit-after-checkpoint` ends vkc after the first `--checkpoint-at` one. A time period is
 * reached in runs of at least the instructions left to it (each CPU retires at most one per ns),
 * so it stops at the first look at or after the deadline: deterministic like everything else.
 * Prints the `--json` exit event and maps the end of the run to an exit status.
 */
export async function runWithCheckpoints(
  kernel: Kernel,
  pid: number,
  take: CheckpointMethod,
  opts: Pick<
    RunOptions,
    "checkpointAt" | "checkpointEvery" | "exitAfterCheckpoint" | "json" | "maxInstructions"
  >,
  io: CliIO,
  what: string,
): Promise<number> {
  const limitAt = opts.maxInstructions === undefined ? undefined : kernel.instructions + opts.maxInstructions;
  const limit = (): { maxInstructions?: number } =>
    limitAt === undefined ? {} : { maxInstructions: Math.max(0, limitAt - kernel.instructions) };
  let result: RunResult | null = null;
  const at = (opts.checkpointAt ?? []).filter((n) => n > kernel.instructions);
  const every = opts.checkpointEvery;
  const everyInstr = every !== undefined && "instructions" in every ? every.instructions : 0;
  const everyNs = every !== undefined && "ns" in every ? every.ns : 0;
  let nextInstr = everyInstr > 0 ? kernel.instructions + everyInstr : Infinity;
  let nextNs = everyNs > 0 ? kernel.now() + everyNs : Infinity;
  for (;;) {
    let stop = Math.min(at[0] ?? Infinity, nextInstr);
    if (nextNs !== Infinity) {
      stop = Math.min(stop, kernel.instructions + Math.max(MIN_TIME_STEP, Math.ceil(nextNs - kernel.now())));
    }
    if (stop === Infinity) break;
    result = await kernel.run({ stopAt: stop, ...limit() });
    if (result.reason !== "stopped") break;
    result = null;
    const atDue = at[0] !== undefined && at[0] <= kernel.instructions;
    if (!atDue && kernel.instructions < nextInstr && kernel.now() < nextNs) continue;
    while (at[0] !== undefined && at[0] <= kernel.instructions) at.shift();
    while (nextInstr <= kernel.instructions) nextInstr += everyInstr;
    while (nextNs <= kernel.now()) nextNs += everyNs;
    const exit = atDue && opts.exitAfterCheckpoint === true;
    const ended = await take(kernel, pid, exit ? "exit" : "continue");
    if (exit) {
      if (opts.json === true)
        jsonEvent(io, "exit", { ...exitFields(ended ?? kernel.result("stopped")), reason: "checkpointed" });
      return 0;
    }
  }
  result ??= await kernel.run(limit());
  reportCheckpointErrors(kernel, io);
  if (opts.json === true) jsonEvent(io, "exit", exitFields(result));
  if (result.reason === "deadlock") {
    throw new CliError("DEADLOCK", `${what}: every thread is asleep and no input can wake it (deadlock)`);
  }
  if (result.reason === "limit") {
    throw new CliError(
      "LIMIT",
      `${what}: stopped after ${result.instructions} instructions (--max-instructions)`,
    );
  }
  return result.exitStatus ?? 1;
}

function exitFields(result: RunResult): Record<string, unknown> {
  return {
    reason: result.reason,
    status: result.exitStatus,
    instructions: result.instructions,
    time: result.time,
    digest: result.digest,
  };
}

/** Checkpoints the guest asked for that failed (it saw -EIO): say why on stderr. */
function reportCheckpointErrors(kernel: Kernel, io: CliIO): void {
  for (const error of kernel.checkpointErrors) {
    const message = error instanceof Error ? error.message : String(error);
    io.err(`vkc: checkpoint failed: ${message.split("\n")[0]}\n`);
  }
}

/**
 * The kernel's checkpoint target for `vkc run`/`vkc restore`: the store of `--store` (or the
 * default one), opened on the first checkpoint — a run that never checkpoints never touches it.
 * Each image records where the executables are on this host, so `vkc restore` finds them.
 */
export class LazyStoreTarget implements CheckpointTarget {
  private blobs: BlobStore | null = null;
  private inner: StoreTarget | null = null;
  /** `--precopy`: the session the next checkpoint of `precopyPid` uses (renewed after each). */
  private precopy: PrecopySession | null = null;
  private precopyPid = 0;
  private images: ImageStore | null = null;
  private url = "";
  /** This run's images, oldest first (for `--keep`). */
  private readonly written: string[] = [];
  /** How many images this target has written. */
  imagesWritten = 0;
  /** Options of the "write" progress meter (tests give it a terminal). */
  meter: MeterOptions = {};

  /** `notices`: the interactive console, which gets a short line per image instead. */
  constructor(
    private readonly opts: Pick<RunOptions, "store" | "embed" | "json" | "keep">,
    private readonly io: CliIO,
    private readonly hostPaths: Readonly<Record<string, string>>,
    private readonly notices: { notice(text: string): void } | null = null,
    /** More fields for the image's `vkcCli` section (a vkernel's boot configuration). */
    private readonly cliSection: CborMap = {},
  ) {}

  async checkpoint(
    kernel: Kernel,
    pid: number,
    options?: Parameters<CheckpointTarget["checkpoint"]>[2],
  ): Promise<CheckpointWritten> {
    const inner = this.inner ?? (await this.open());
    const write = () => inner.checkpoint(kernel, pid, options);
    const expected = expectedWriteBytes(kernel, pid, this.imagesWritten > 0);
    const written = await meterWrite(
      this.io,
      this.images,
      this.notices !== null,
      write,
      this.meter,
      expected,
    );
    if (this.precopy !== null && pid === this.precopyPid) {
      this.precopy = kernel.procs.get(pid)?.state === "alive" ? inner.startPrecopy(kernel, pid) : null;
    }
    this.imagesWritten++;
    await this.prune(written.id);
    return written;
  }

  /** `--precopy`: open the store now and start pre-copying `pid` (CHECKPOINT.md "Pre-copy"). */
  async startPrecopy(kernel: Kernel, pid: number): Promise<void> {
    const inner = this.inner ?? (await this.open());
    this.precopy = inner.startPrecopy(kernel, pid);
    this.precopyPid = pid;
  }

  private async open(): Promise<StoreTarget> {
    const ctx = { env: process.env, cwd: process.cwd() };
    this.url = storeUrl(this.opts, ctx);
    this.blobs = await openStore(this.url, ctx);
    const key = signKey({}, ctx);
    this.images = createImageStore(this.blobs, key === undefined ? {} : { signKey: key });
    const extensions: CborMap = {
      [CLI_EXTENSION]: { hostExecutables: { ...this.hostPaths }, ...this.cliSection },
    };
    this.inner = createStoreTarget(this.images, {
      embed: this.opts.embed === true,
      extensions,
      vkernel: vkernelImageMap,
      onWritten: (w) => this.report(w),
    });
    return this.inner;
  }

  /**
   * `--keep N`: remove this run's images older than its N newest. Each image lists every pack it
   * needs, so the ones kept stay restorable without their parents; `vkc images gc` reclaims the
   * packs only removed images used. The newest is always kept: it is the next image's parent.
   */
  private async prune(id: string): Promise<void> {
    this.written.push(id);
    const keep = Math.max(1, this.opts.keep ?? Infinity);
    while (this.written.length > keep && this.images !== null) {
      const old = this.written.shift() as string;
      try {
        await this.images.remove(old);
        if (this.opts.json === true) jsonEvent(this.io, "removed", { image: old, reason: "keep" });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.io.err(
          `vkc: could not remove old image ${old.slice(0, 12)} (--keep): ${message.split("\n")[0]}\n`,
        );
      }
    }
  }

  private report(w: CheckpointWritten): void {
    if (this.opts.json === true) {
      jsonEvent(this.io, "checkpoint", {
        image: w.id,
        instructions: w.instructions,
        pid: w.pid,
        parent: w.parent,
        cause: w.cause,
        pagesWritten: w.stats.pagesWritten,
        bytesWritten: w.stats.bytesWritten,
        ...(w.pauseMs === undefined ? {} : { pauseMs: Math.round(w.pauseMs * 1000) / 1000 }),
        ...(w.precopy === undefined ? {} : { precopyRounds: w.precopy.rounds }),
      });
    } else if (this.notices !== null) {
      this.notices.notice(`vkc: checkpoint ${w.id.slice(0, 12)} written to ${this.url}`);
    } else {
      const kind = w.parent === null ? "full" : `incremental over ${w.parent.slice(0, 12)}`;
      this.io.err(
        `vkc: checkpoint ${w.id.slice(0, 12)} of pid ${w.pid} at ${w.instructions} instructions (${kind}, ${w.stats.pagesWritten} pages, ${w.stats.bytesWritten} bytes written)\n`,
      );
    }
  }

  async close(): Promise<void> {
    await this.precopy?.close().catch(() => undefined);
    await this.inner?.settle();
    await this.blobs?.close?.();
  }
}

export async function readHostFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(error));
    throw new CliError("READ_FAILED", `cannot read ${what} ${path}: ${why}`, { cause: error });
  }
}
