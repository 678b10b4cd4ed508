import { createHash } from "node:crypto";
import { basename, resolve } from "node:path";
import { createKernel, ElfError, type Kernel, parseElf, type RunResult, signals } from "@vkc/host-kernel";
import { CliError } from "../errors.ts";
import type { CliIO } from "../main.ts";
import { openConsole } from "../output.ts";
import { type BootNetwork, checkBootNetwork, openBootNetwork } from "./boot-network.ts";
import type { GuestSpec, TapSpec, UdpBridgeSpec } from "./boot-options.ts";
import { type BootRecord, bootSection } from "./boot-record.ts";
import { type BootConfig, VKERNEL_PATH, vkernelProgram } from "./boot-vkernel.ts";
import {
  type CheckpointMethod,
  interactiveConsole,
  LazyStoreTarget,
  type RunOptions,
  readHostFile,
  runWithCheckpoints,
} from "./run.ts";

/** `vkc boot`'s own flags, beside the ones it shares with `vkc run`. */
export interface BootOptions extends Omit<RunOptions, "cpus" | "input" | "net"> {
  /** `--vcpus N`: the vkernel's virtual CPUs (1..64, default 1). */
  vcpus: number;
  /** `--memory SIZE`: memimage bytes (default 64 MiB). */
  memory: number;
  /** `--cpus N`: simulated host CPUs (default: as many as vCPUs). */
  cpus?: number;
  /** `--tap NAME[:ADDR]`, repeatable. */
  tap?: TapSpec[];
  /** `--udp-bridge HOST:PORT`. */
  udpBridge?: UdpBridgeSpec;
}

/** SHA-256 of `bytes`, hex. */
export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * Host VFS path of guest `i` (`/guest/0/threads.elf`): the vkernel reads its ELF from there at
 * boot; the file's name makes the virtual process's comm, as `/bin/NAME` does for `vkc run`.
 */
export const guestVfsPath = (i: number, elf: string): string => `/guest/${i}/${basename(elf)}`;

/**
 * A guest the vkernel could not load would only end it with its panic status: check each ELF here,
 * with the host's own loader checks, so a bad one is one line naming the file.
 */
function checkGuestElf(file: string, bytes: Uint8Array): void {
  try {
    parseElf(bytes);
  } catch (error) {
    if (!ElfError.isInstance(error)) throw error;
    throw new CliError("ELF", `guest ${file}: ${error.message.split("\n")[0]}`, { cause: error });
  }
}

/**
 * `vkc boot [options] -- <elf> [args] [-- <elf> [args]]…`: start a vkernel (a native host process,
 * `/boot/vkernel`) on a fresh host kernel, running those programs as its virtual processes; the
 * exit status is the vkernel's, which is its first guest's. Checkpoints at `--checkpoint-at`
 * (host instructions) ask the vkernel with SIGCKPT (SIGCKPTEXIT for `--exit-after-checkpoint`), so
 * it runs its own checkpoint protocol before the host freezes it.
 */
export async function boot(guests: readonly GuestSpec[], opts: BootOptions, io: CliIO): Promise<number> {
  const taps = opts.tap ?? [];
  checkBootNetwork(taps, opts.udpBridge);
  const files: Record<string, Uint8Array> = {};
  const hostPaths: Record<string, string> = {};
  const guestHashes: Record<string, string> = {};
  for (const [i, guest] of guests.entries()) {
    const bytes = new Uint8Array(await readHostFile(guest.elf, "ELF file"));
    checkGuestElf(guest.elf, bytes);
    const path = guestVfsPath(i, guest.elf);
    files[path] = bytes;
    hostPaths[path] = resolve(guest.elf);
    guestHashes[path] = sha256(bytes);
  }
  const config: BootConfig = {
    vcpus: opts.vcpus,
    memoryBytes: opts.memory,
    guests: guests.map((g, i) => ({
      path: guestVfsPath(i, g.elf),
      argv: [guestVfsPath(i, g.elf), ...g.args],
    })),
    taps: taps.map((t) => ({
      device: `/dev/${t.name}`,
      ...(t.address === undefined ? {} : { address: t.address }),
    })),
    seed: opts.seed,
  };
  const record: BootRecord = {
    config,
    taps,
    guestHashes,
    ...(opts.udpBridge === undefined ? {} : { udpBridge: opts.udpBridge }),
  };
  const tty = interactiveConsole(opts, io);
  const output = tty?.output ?? openConsole(io, opts.console);
  const target = new LazyStoreTarget(opts, tty?.io ?? io, hostPaths, tty, bootSection(record));
  let net: BootNetwork | null = null;
  try {
    net = await openBootNetwork(taps, opts.udpBridge);
    if (net.uplink !== null)
      io.err(`vkc: UDP bridge on ${net.uplink.address}:${net.uplink.port} → ${taps[0]?.address}\n`);
    const kernel = createKernel({
      cpus: opts.cpus ?? opts.vcpus,
      seed: opts.seed,
      console: output,
      files,
      natives: { [VKERNEL_PATH]: vkernelProgram(config, "boot") },
      checkpointTarget: target,
      ...(net.network === undefined ? {} : { network: net.network }),
      ...(tty === null ? {} : { liveInput: true, winsize: tty.winsize() }),
    });
    const pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
    if (opts.precopy === true) await target.startPrecopy(kernel, pid);
    const take = signalCheckpoints(target);
    const what = `vkernel (${guests[0]?.elf ?? "no guest"})`;
    if (tty === null) return await runWithCheckpoints(kernel, pid, take, opts, io, what);
    return await tty.drive(kernel, () => runWithCheckpoints(kernel, pid, take, opts, tty.io, what), {
      checkpointKey: () => signalVkernel(kernel, pid, signals.SIGCKPT),
    });
  } finally {
    await output.close();
    await target.close();
    await net?.close();
  }
}

/**
 * A vkernel's checkpoint method: SIGCKPT to the vkernel process, which stops its vCPUs, saves its
 * devices and kernel state and then freezes itself through the kernel's checkpoint target (the
 * image is written while the run goes on). For "exit", SIGCKPTEXIT and run until the vkernel has
 * written the image and exited; it is an error if it exits without one.
 */
export function signalCheckpoints(target: LazyStoreTarget): CheckpointMethod {
  return async (kernel: Kernel, pid: number, mode): Promise<RunResult | null> => {
    if (mode === "continue") {
      signalVkernel(kernel, pid, signals.SIGCKPT);
      return null;
    }
    const before = target.imagesWritten;
    signalVkernel(kernel, pid, signals.SIGCKPTEXIT);
    const result = await kernel.run();
    if (target.imagesWritten === before) {
      throw new CliError(
        "CHECKPOINT",
        `the vkernel ended (${result.reason}, status ${result.exitStatus}) without writing its checkpoint`,
      );
    }
    return result;
  };
}

/** Post `sig` to the vkernel process from outside the run loop (it wakes a run waiting for input). */
export function signalVkernel(kernel: Kernel, pid: number, sig: number): void {
  kernel.signalProcess(pid, sig);
}
