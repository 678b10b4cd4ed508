import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { memoryOption, tapOption, udpBridgeOption } from "./commands/boot-options.ts";
import { netOption } from "./commands/net-options.ts";
import { registerImageCommands } from "./commands/register-images.ts";
import type { CheckpointEvery } from "./commands/run.ts";
import type { TerminalStreams } from "./console/console-terminal.ts";
import { CliError, UsageError } from "./errors.ts";
import { instantsOption, intOption } from "./options.ts";
import { VERSION } from "./version.ts";

/** Where a command writes: results to `out` (stdout), messages and progress to `err` (stderr). */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** The process's own stdin/stdout, for the interactive console when both are terminals. */
  tty?: TerminalStreams;
}

const defaultIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  // A getter: process.stdin is only created when a command asks for it.
  get tty(): TerminalStreams {
    return { stdin: process.stdin, stdout: process.stdout };
  },
};

/**
 * Runs `vkc` with `argv` (without node and script) and resolves the process exit status:
 * the guest's for run/boot/restore, 1 for vkc's own failure, 2 for usage errors.
 */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const debug = argv.includes("--debug");
  let status = 0;
  const program = buildProgram(io, (code) => {
    status = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return status;
  } catch (error) {
    return reportError(error, io, debug, argv);
  }
}

const TIME_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const COUNT_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/** Commander value parser for `--checkpoint-every`: `5s`, `500ms`, `2m` (virtual time) or `50M`, `2k`, `1000000` (instructions). */
function checkpointEvery(value: string): CheckpointEvery {
  const m = /^([0-9][0-9_]*)(ns|us|ms|s|m|h|k|K|M|G)?$/.exec(value.trim());
  const n = m === null ? Number.NaN : Number((m[1] ?? "").replaceAll("_", ""));
  const unit = m?.[2] ?? "";
  const scale = TIME_UNITS[unit] ?? COUNT_UNITS[unit];
  if (m === null || scale === undefined || !(n > 0) || !Number.isSafeInteger(n * scale)) {
    throw new InvalidArgumentError(
      "--checkpoint-every takes a virtual duration (500ms, 5s, 2m) or an instruction count (50M, 2k, 1000000)",
    );
  }
  return unit in TIME_UNITS ? { ns: n * scale } : { instructions: n * scale };
}

function buildProgram(io: CliIO, setStatus: (code: number) => void): Command {
  const program = new Command("vkc")
    .description("Run, checkpoint, restore and inspect RISC-V programs and virtual kernels.")
    .version(VERSION, "-V, --version", "print the vkc version")
    .addOption(new Option("--debug", "print stack traces for errors"))
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      // Commander's own error text is reported by reportError as one line.
      writeErr: (text) => {
        if (!text.startsWith("error:")) io.err(text);
      },
    })
    .addHelpText(
      "after",
      `
Examples:
  $ vkc demo                          the tour: checkpoint, kill, restore, compare
  $ vkc run hello.elf world           run a RISC-V program
  $ vkc boot --vcpus 2 -- threads.elf boot a vkernel running a program
  $ vkc --version`,
    );

  program
    .command("demo")
    .description("run the guided tour of what vkc does")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc demo                          checkpoint a program, kill it, restore it, compare the output`,
    )
    .action(async () => {
      const { demo } = await import("./commands/demo.ts");
      setStatus(await demo({ io }));
    });

  addRunOptions(
    program
      .command("run")
      .description("run a static RV32IMA ELF program on a fresh host kernel")
      .argument("<elf>", "the program (a static ELF32 RISC-V executable)")
      .argument("[args...]", "arguments for the program (options after <elf> go to the program)")
      .passThroughOptions()
      .option("--cpus <n>", "simulated CPUs", intOption("--cpus", 1, 64), 1)
      .option("--seed <n>", "scheduler seed", intOption("--seed", 0, 0xffffffff), 1)
      .option("--input <script>", "tty input at virtual times (lines: <time> <JSON string>)")
      .option(
        "--net <bridge:addr/prefix>",
        "a network interface (eth0, eth1, … in order) on a host bridge, repeatable (br0:10.0.0.1/24)",
        netOption,
      )
      .option(
        "--udp-bridge <host:port>",
        "forward real UDP datagrams on HOST:PORT to the first --net address, same port",
        udpBridgeOption,
      ),
    "the image",
  )
    .addHelpText(
      "after",
      `
On a terminal, the guest's console is attached to it: keys go to the guest as typed, ^E
checkpoints, and ^] q quits (exit status 130). See the README's "Interactive console".

Examples:
  $ vkc run packages/host-kernel/guest/bin/hello.elf world
  $ vkc run --cpus 4 --seed 7 packages/host-kernel/guest/bin/threads.elf 4 1000
  $ vkc run --json --console out.txt packages/host-kernel/guest/bin/primes.elf
  $ vkc run --checkpoint-every 50M --keep 3 packages/host-kernel/guest/bin/primes.elf
  $ vkc run packages/host-kernel/guest/bin/ttyraw.elf    interactive: type keys, 'q' ends it
  $ vkc run --net br0:10.0.0.1/24 --udp-bridge 127.0.0.1:7007 \\
      packages/host-kernel/guest/bin/udpecho.elf 7007 3    then: nc -u 127.0.0.1 7007`,
    )
    .action(async (elf: string, args: string[], opts: import("./commands/run.ts").RunOptions) => {
      const { run } = await import("./commands/run.ts");
      setStatus(await run(elf, args, opts, io));
    });

  addRunOptions(
    program
      .command("boot")
      .description("boot a vkernel running RISC-V programs as its virtual processes")
      .usage("[options] -- <elf> [args...] [-- <elf> [args...]]...")
      .argument("<elf>", "the first guest (a static ELF32 RISC-V executable)")
      .argument("[args...]", "its arguments; '--' starts the next guest")
      .passThroughOptions()
      .option("--vcpus <n>", "virtual CPUs of the vkernel", intOption("--vcpus", 1, 64), 1)
      .addOption(
        new Option("--memory <size>", "memimage size: 64M, 512M, 1G or bytes (page multiple)")
          .argParser(memoryOption)
          .default(64 * 1024 * 1024, "64M"),
      )
      .option(
        "--tap <name[:addr]>",
        "a host tap for a vke, repeatable (tap0:10.0.0.2/24); all join bridge br0",
        tapOption,
      )
      .option(
        "--udp-bridge <host:port>",
        "forward real UDP datagrams on HOST:PORT to the first tap's address",
        udpBridgeOption,
      )
      .option("--cpus <n>", "simulated host CPUs (default: --vcpus)", intOption("--cpus", 1, 64))
      .option("--seed <n>", "scheduler seed", intOption("--seed", 0, 0xffffffff), 1),
    null, // a vkernel image references its guest ELFs by path and SHA-256: nothing to embed
  )
    .addHelpText(
      "after",
      `
--checkpoint-at counts host instructions; each checkpoint is taken by the vkernel itself
(SIGCKPT, or SIGCKPTEXIT with --exit-after-checkpoint), which saves its virtual processes,
devices and kernel state before the host freezes it. 'vkc restore' thaws the image.

Examples:
  $ vkc boot -- packages/host-kernel/guest/bin/hello.elf world
  $ vkc boot --vcpus 2 -- packages/host-kernel/guest/bin/threads.elf 4 2000
  $ vkc boot --vcpus 2 --memory 512M --checkpoint-at 2000000 --exit-after-checkpoint \\
      -- packages/host-kernel/guest/bin/threads.elf 4 20000
  $ vkc boot --tap tap0:10.0.0.2/24 --udp-bridge 127.0.0.1:7000 \\
      -- packages/host-kernel/guest/bin/udpecho.elf 7000`,
    )
    .action(async (elf: string, args: string[], opts: import("./commands/boot.ts").BootOptions) => {
      const [{ boot }, { splitGuests }] = await Promise.all([
        import("./commands/boot.ts"),
        import("./commands/boot-options.ts"),
      ]);
      setStatus(await boot(splitGuests(elf, args), opts, io));
    });

  addRunOptions(
    program
      .command("restore")
      .description("thaw a process or vkernel image and run it to the end (exit status: the guest's)")
      .argument("<image>", "image id, unique id prefix, or ref such as latest")
      .option("--cpus <n>", "simulated CPUs (default: the image's)", intOption("--cpus", 1, 64))
      .option("--lazy", "start at once: read pages when first touched and in the background (file stores)")
      .option(
        "--udp-bridge <host:port>",
        "the image's UDP uplink on this HOST:PORT instead of the recorded one (same guest port)",
        udpBridgeOption,
      ),
    "new images",
  )
    .addHelpText(
      "after",
      `
Examples:
  $ vkc restore latest
  $ vkc restore 3f2a --store file:/tmp/imgs --cpus 2
  $ vkc restore latest --lazy                 run before every page is read
  $ vkc restore latest --checkpoint-every 10s --keep 2 --json
  $ vkc restore latest --udp-bridge 127.0.0.1:7100    a --net/--tap image's uplink on another port`,
    )
    .action(async (image: string, opts: import("./commands/restore.ts").RestoreOptions) => {
      const { restore } = await import("./commands/restore.ts");
      setStatus(await restore(image, opts, io));
    });

  registerImageCommands(program, { io, setStatus });

  program
    .command("completion")
    .description("print a shell completion script for vkc (bash or zsh)")
    .argument("<shell>", "bash or zsh")
    .addHelpText(
      "after",
      `
Examples:
  $ source <(vkc completion bash)                 complete vkc in this bash session
  $ vkc completion bash > ~/.local/share/bash-completion/completions/vkc
  $ source <(vkc completion zsh)                  the same for zsh`,
    )
    .action(async (shell: string) => {
      const { completion } = await import("./commands/completion.ts");
      setStatus(completion(shell, program, io));
    });

  acceptDebugEverywhere(program);
  return program;
}

/**
 * `--debug` is vkc's, wherever it is typed (`vkc run --debug x.elf`, `vkc images ls --debug`):
 * each command takes it as a hidden flag, and `main` adds the stack when it is on the line.
 */
function acceptDebugEverywhere(command: Command): void {
  for (const sub of command.commands) {
    if (!sub.options.some((o) => o.long === "--debug")) sub.addOption(new Option("--debug").hideHelp());
    acceptDebugEverywhere(sub);
  }
}

/** `vkc run` for `run --cpus 99 x.elf`: the deepest command named on the line, for the help hint. */
function helpCommand(argv: readonly string[]): string {
  let command = buildProgram({ out: () => {}, err: () => {} }, () => {});
  const path = ["vkc"];
  for (const word of argv) {
    if (word.startsWith("-")) continue;
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) break;
    command = sub;
    path.push(sub.name());
  }
  return path.join(" ");
}

/**
 * The options `vkc run`, `vkc boot` and `vkc restore` share: console, limits, JSON events,
 * checkpoints, and `--embed` (the executable into `embedInto`) unless that is null.
 */
function addRunOptions(command: Command, embedInto: string | null): Command {
  const shared = command
    .option("--console <file>", "write the guest console to FILE instead of stdout")
    .option(
      "--max-instructions <n>",
      "stop after N more instructions",
      intOption("--max-instructions", 1, Number.MAX_SAFE_INTEGER),
    )
    .option("--json", "print vkc's events and results as JSON lines on stdout")
    .option("--store <url>", "image store (default: VKC_STORE, else the data dir)")
    .option("--checkpoint-at <n,...>", "checkpoint at these total virtual instruction counts", instantsOption)
    .option("--exit-after-checkpoint", "stop after the first --checkpoint-at checkpoint")
    .option(
      "--precopy",
      "copy memory while the guest runs: a checkpoint stops it only for what it dirtied since",
    )
    .option(
      "--checkpoint-every <period>",
      "checkpoint every PERIOD: virtual time (5s, 500ms) or instructions (50M)",
      checkpointEvery,
    )
    .option(
      "--keep <n>",
      "keep only this run's N newest images (remove older ones)",
      intOption("--keep", 1, 1_000_000),
    );
  return embedInto === null ? shared : shared.option("--embed", `store the executable in ${embedInto} too`);
}

function reportError(error: unknown, io: CliIO, debug: boolean, argv: readonly string[] = []): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0; // --help, --version
    const message = error.message.replace(/^error:\s*/, "").split("\n")[0] ?? "invalid command line";
    return reportError(new UsageError(`${message} (see '${helpCommand(argv)} --help')`), io, debug);
  }
  const exitCode = CliError.isInstance(error) ? error.exitCode : 1;
  const message = error instanceof Error ? error.message : String(error);
  io.err(`vkc: ${message.split("\n")[0]}\n`);
  if (debug && error instanceof Error && error.stack) io.err(`${error.stack}\n`);
  return exitCode;
}
