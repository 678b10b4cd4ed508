import { readFile } from "node:fs/promises";
import { CheckpointError, type Manifest, PAGE_SIZE } from "@vkc/checkpoint";
import { HostKernelError, signals, type ThawOptions, thawProcess } from "@vkc/host-kernel";
import { CliError, UsageError } from "../errors.ts";
import type { CliIO } from "../main.ts";
import { type ConsoleOutput, openConsole } from "../output.ts";
import { withMeter } from "../progress/progress-meter.ts";
import { type StoreContext, storeUrl, withImageStore } from "../stores/store-session.ts";
import { sha256, signalCheckpoints, signalVkernel } from "./boot.ts";
import { type BootNetwork, openBootNetwork } from "./boot-network.ts";
import type { UdpBridgeSpec } from "./boot-options.ts";
import { type BootRecord, bootSection, readBootRecord } from "./boot-record.ts";
import { VKERNEL_PATH, vkernelProgram } from "./boot-vkernel.ts";
import {
  announceUplink,
  type CheckpointEvery,
  CLI_EXTENSION,
  interactiveConsole,
  LazyStoreTarget,
  readHostFile,
  runWithCheckpoints,
  targetCheckpoints,
} from "./run.ts";
import { openRunNetwork, readRunNetwork, runNetworkSection } from "./run-network.ts";

export interface RestoreOptions {
  store?: string;
  /** `--precopy`: pre-copy the thawed process's memory, for its next checkpoints (see `RunOptions`). */
  precopy?: boolean;
  /** Simulated CPUs (default: the image's). */
  cpus?: number;
  console?: string;
  json?: boolean;
  maxInstructions?: number;
  checkpointAt?: number[];
  exitAfterCheckpoint?: boolean;
  /** `--checkpoint-every D|N` and `--keep N`, as for `vkc run`. */
  checkpointEvery?: CheckpointEvery;
  keep?: number;
  embed?: boolean;
  /** `--udp-bridge HOST:PORT`: the image's uplink on this real address instead of the recorded one. */
  udpBridge?: UdpBridgeSpec;
  /** `--lazy`: pages read when first touched and in the background (a store with sync reads). */
  lazy?: boolean;
}

/**
 * `vkc restore IMAGE`: thaw a process image (an id, a unique id prefix, or a ref like `latest`)
 * into a fresh kernel and run it to the end; the exit status is the guest's. A process that froze
 * itself sees 1 as the result of its sys_checkpoint(FREEZE). Executables come from the paths the
 * image recorded on this host, or from the image itself when it embeds them; a changed file is
 * refused. Any failure before the guest runs is one line and exit status 1, and changes nothing.
 * A vkernel image (made by `vkc boot`) gets `/boot/vkernel`, its guest ELFs and its host network
 * back, and its checkpoints go through the vkernel's own protocol, as under `vkc boot`.
 */
export async function restore(image: string, opts: RestoreOptions, io: CliIO): Promise<number> {
  const ctx: StoreContext = { env: process.env, cwd: process.cwd() };
  const url = storeUrl(opts, ctx);
  const tty = interactiveConsole(opts, io);
  const prepared = await withImageStore(url, {}, ctx, async ({ images }) => {
    let manifest: Manifest;
    try {
      manifest = await images.readManifest(image);
    } catch (error) {
      throw cannotRestore(image, error);
    }
    const files = await hostExecutables(manifest);
    // A vkernel image: its program, its guests' ELFs and its host network come back too.
    const recorded = readBootRecord(manifest);
    const boot = recorded === null ? null : { ...recorded, ...movedUplink(image, recorded, opts.udpBridge) };
    const vkernel = boot === null ? null : await vkernelHost(boot, hostPaths(manifest), files);
    // A `vkc run --net` image: the same interfaces (names, order, bridges, addresses) and uplink.
    const saved = boot === null ? readRunNetwork(manifest.extensions?.[CLI_EXTENSION]) : null;
    const runNet = saved === null ? null : { ...saved, ...movedUplink(image, saved, opts.udpBridge) };
    const target = new LazyStoreTarget(
      { ...opts, store: url },
      tty?.io ?? io,
      hostPaths(manifest),
      tty,
      boot === null ? runNetworkSection(runNet?.interfaces ?? [], runNet?.udpBridge) : bootSection(boot),
    );
    // The console is opened once the thaw has worked: a refused image leaves no file behind.
    let sink: ConsoleOutput | null = null;
    let hostNet: BootNetwork | null = vkernel?.network ?? null;
    try {
      if (runNet !== null && runNet.interfaces.length > 0) {
        hostNet = await openRunNetwork(runNet.interfaces, runNet.udpBridge);
        announceUplink(hostNet, runNet.interfaces, io);
      }
      const uplink = vkernel?.network.uplink;
      if (uplink != null)
        io.err(`vkc: UDP bridge on ${uplink.address}:${uplink.port} → ${boot?.taps[0]?.address}\n`);
      // Reading the pages is the long part: show it (bytes read of the image's resident bytes).
      const total = manifest.objects.reduce((n, o) => n + o.pages.indexes.length * PAGE_SIZE, 0);
      const read = images.stats.bytesGot;
      const sample = () => ({ bytes: images.stats.bytesGot - read, total });
      const thawed = await withMeter(io, "restore", sample, () =>
        thawProcess(images, image, {
          ...(opts.cpus === undefined ? {} : { cpus: opts.cpus }),
          console: { write: (bytes) => sink?.write(bytes) },
          files,
          checkpointTarget: target,
          retval: 1,
          ...(opts.lazy === true ? { lazy: true } : {}),
          ...(vkernel === null ? {} : vkernel.options),
          ...(vkernel !== null || hostNet?.network === undefined ? {} : { network: hostNet.network }),
          ...(tty === null ? {} : { liveInput: true }),
        }),
      );
      sink = tty?.output ?? openConsole(io, opts.console);
      const take = vkernel === null ? targetCheckpoints(target) : signalCheckpoints(target);
      return { ...thawed, output: sink, target, take, vkernel, network: hostNet };
    } catch (error) {
      await hostNet?.close();
      throw cannotRestore(image, error);
    }
  });
  const { kernel, pid, output, target, take, network, vkernel } = prepared;
  try {
    if (opts.precopy === true) await target.startPrecopy(kernel, pid);
    if (tty === null) return await runWithCheckpoints(kernel, pid, take, opts, io, `image ${image}`);
    // This terminal's size, not the saved one: a change reaches the guest as SIGWINCH.
    kernel.tty.setWinsize({ ...kernel.tty.winsize, ...tty.winsize() });
    return await tty.drive(
      kernel,
      () => runWithCheckpoints(kernel, pid, take, opts, tty.io, `image ${image}`),
      // A vkernel's console is raw: ^E checkpoints the whole vkernel (SIGCKPT, its protocol).
      vkernel === null ? {} : { checkpointKey: () => signalVkernel(kernel, pid, signals.SIGCKPT) },
    );
  } finally {
    await output.close();
    await target.close();
    await network?.close();
  }
}

/**
 * What a vkernel image needs around it: `/boot/vkernel` registered, its guests' ELFs back at their
 * host VFS paths (read from where `vkc boot` found them), and the bridge, taps and UDP uplink
 * it was booted with (the vkernel reopens its taps itself after the thaw).
 */
async function vkernelHost(
  boot: BootRecord,
  paths: Readonly<Record<string, string>>,
  files: Record<string, Uint8Array>,
): Promise<{ options: Partial<ThawOptions>; network: BootNetwork }> {
  for (const guest of boot.config.guests) {
    const host = paths[guest.path];
    if (files[guest.path] !== undefined || host === undefined) continue;
    const bytes = new Uint8Array(await readHostFile(host, "guest ELF file"));
    const want = boot.guestHashes?.[guest.path];
    if (want !== undefined && sha256(bytes) !== want) {
      throw new CliError(
        "RESTORE",
        `guest ELF ${host} changed since the image was made (sha256 ${want.slice(0, 12)}…): put the original back`,
      );
    }
    files[guest.path] = bytes;
  }
  const program = vkernelProgram(boot.config, "restore");
  const network = await openBootNetwork(boot.taps, boot.udpBridge);
  return {
    options: {
      natives: { [VKERNEL_PATH]: program },
      ...(network.network === undefined ? {} : { network: network.network }),
    },
    network,
  };
}

/**
 * `vkc restore --udp-bridge HOST:PORT`: the image's uplink on another real address or port (this
 * one is taken, or another machine); datagrams still reach the guest's port the image recorded.
 * An image without a network interface has nothing to forward to: a usage error.
 */
function movedUplink(
  image: string,
  record: {
    readonly taps?: readonly unknown[];
    readonly interfaces?: readonly unknown[];
    readonly udpBridge?: UdpBridgeSpec;
  },
  wanted: UdpBridgeSpec | undefined,
): { udpBridge?: UdpBridgeSpec } {
  if (wanted === undefined) return {};
  if ((record.taps ?? record.interfaces ?? []).length === 0) {
    throw new UsageError(
      `--udp-bridge: image ${image} has no network interface to forward to (made without --net or --tap)`,
    );
  }
  const was = record.udpBridge;
  return { udpBridge: { ...wanted, guestPort: was?.guestPort ?? was?.port ?? wanted.port } };
}

function cannotRestore(image: string, error: unknown): unknown {
  if (HostKernelError.isInstance(error) || CheckpointError.isInstance(error)) {
    const message = (error as Error).message.split("\n")[0] ?? "";
    const hint = /no image, ref or id prefix/.test(message) ? " (list images with 'vkc images ls')" : "";
    return new CliError("RESTORE", `cannot restore ${image}: ${message}${hint}`, { cause: error });
  }
  return error;
}

/** guest path → host path, as `vkc run` recorded them. */
function hostPaths(manifest: Manifest): Record<string, string> {
  const section = manifest.extensions?.[CLI_EXTENSION];
  const out: Record<string, string> = {};
  if (
    typeof section !== "object" ||
    section === null ||
    Array.isArray(section) ||
    section instanceof Uint8Array
  )
    return out;
  const paths = (section as Record<string, unknown>).hostExecutables;
  if (typeof paths !== "object" || paths === null) return out;
  for (const [guest, host] of Object.entries(paths)) if (typeof host === "string") out[guest] = host;
  return out;
}

/**
 * The executables the image needs that are not embedded, read from their host paths. A file that
 * is gone is left out (the thaw then names it as missing); an embedded one is read from the store.
 */
async function hostExecutables(manifest: Manifest): Promise<Record<string, Uint8Array>> {
  const paths = hostPaths(manifest);
  const files: Record<string, Uint8Array> = {};
  for (const exe of manifest.executables) {
    if (exe.embedded !== undefined) continue;
    const host = paths[exe.path];
    if (host === undefined) continue;
    try {
      files[exe.path] = new Uint8Array(await readFile(host));
    } catch {
      // missing: reported by the thaw as "executable … is missing"
    }
  }
  return files;
}
