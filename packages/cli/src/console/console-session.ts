import { type Kernel, signals } from "@vkc/host-kernel";
import type { CliIO } from "../main.ts";
import type { ConsoleOutput } from "../output.ts";
import { ESCAPE_HELP, EscapeParser } from "./console-keys.ts";
import { enterRawMode, type TerminalStreams } from "./console-terminal.ts";

/** Exit status of `vkc run` ended with ^] q (as for a shell job ended by SIGINT). */
export const QUIT_STATUS = 130;

/** How long to wait for the killed guest's run to wind down after a quit. */
const QUIT_GRACE_MS = 2000;

/**
 * An interactive console: the guest's tty on the host terminal. Keys go live to the guest
 * (`kernel.ttyInput`), its output straight to stdout, window size changes become
 * `kernel.tty.setWinsize` (SIGWINCH in the guest), and vkc's own messages appear on a line of
 * their own, in raw-mode line endings, so they do not garble the guest's screen.
 */
export class InteractiveConsole {
  private atLineStart = true;

  /** The guest console sink: bytes to stdout as they come (the guest's tty already did ONLCR). */
  readonly output: ConsoleOutput = {
    write: (bytes) => {
      if (bytes.length === 0) return;
      this.streams.stdout.write(bytes);
      this.atLineStart = bytes[bytes.length - 1] === 0x0a;
    },
    close: async () => {},
  };

  /** Where run/restore write while the console is up: stdout unchanged, stderr through `notice`. */
  readonly io: CliIO;

  constructor(
    private readonly streams: TerminalStreams,
    io: CliIO,
  ) {
    this.io = { out: io.out, err: (text) => this.notice(text) };
  }

  /** The terminal's size now, for `createKernel({ winsize })`. */
  winsize(): { rows: number; cols: number } {
    return { rows: this.streams.stdout.rows || 24, cols: this.streams.stdout.columns || 80 };
  }

  /** One message from vkc on stderr, starting on a fresh line, with "\r\n" line ends. */
  notice(text: string): void {
    const body = text.replace(/\n$/, "").replaceAll("\n", "\r\n");
    process.stderr.write(`${this.atLineStart ? "" : "\r\n"}${body}\r\n`);
    this.atLineStart = true;
  }

  /**
   * Run `work` (the kernel's run loop) with the terminal in raw mode, feeding keys and window
   * sizes to `kernel`; resolves its exit status, or QUIT_STATUS after ^] q (or 128+n after a
   * signal), having killed the guest. The terminal is restored whatever happens.
   */
  async drive(kernel: Kernel, work: () => Promise<number>, options: DriveOptions = {}): Promise<number> {
    const { stdin, stdout } = this.streams;
    const checkpointKey = options.checkpointKey;
    let quit: (status: number) => void = () => {};
    const quitting = new Promise<number>((resolve) => {
      quit = resolve;
    });
    const parser = new EscapeParser();
    const onData = (chunk: Buffer): void => {
      const { forward, command } = parser.push(chunk);
      if (checkpointKey === undefined) {
        if (forward.length > 0) kernel.ttyInput(forward);
      } else {
        // ^E is vkc's here: each one checkpoints, the other bytes go on to the guest in order.
        let from = 0;
        for (let i = 0; i <= forward.length; i++) {
          if (i < forward.length && forward[i] !== CTRL_E) continue;
          if (i > from) kernel.ttyInput(forward.subarray(from, i));
          if (i < forward.length) checkpointKey();
          from = i + 1;
        }
      }
      if (command === "help") this.notice(ESCAPE_HELP);
      if (command === "quit") quit(QUIT_STATUS);
    };
    const onResize = (): void => {
      kernel.tty.setWinsize({ ...kernel.tty.winsize, ...this.winsize() });
    };
    const onEnd = (): void => kernel.closeInput();
    const raw = enterRawMode(this.streams, (status) => quit(status));
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdout.on("resize", onResize);
    try {
      const running = work();
      const outcome = await Promise.race([
        running.then((status) => ({ status, quit: false })),
        quitting.then((status) => ({ status, quit: true })),
      ]);
      if (outcome.quit) {
        this.notice(`vkc: quit (exit status ${outcome.status}); the guest was killed`);
        await stopGuest(kernel, running);
      }
      return outcome.status;
    } finally {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdout.off("resize", onResize);
      raw.restore();
    }
  }
}

/** ^E, the tty's VCKPT key. */
const CTRL_E = 0x05;

/** How `drive` treats keys. */
export interface DriveOptions {
  /**
   * Take ^E for vkc: called for each one instead of passing it to the guest's tty (for a vkernel,
   * whose console is in raw mode: ^E then checkpoints the vkernel, not a process inside it).
   */
  readonly checkpointKey?: () => void;
}

/** Kill every guest process and let the run loop end (bounded: it may be mid-checkpoint). */
async function stopGuest(kernel: Kernel, running: Promise<number>): Promise<void> {
  for (const pid of kernel.procs.keys()) kernel.signalProcess(pid, signals.SIGKILL);
  kernel.closeInput();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    running.catch(() => 0),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_GRACE_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
