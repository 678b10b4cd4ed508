/**
 * The host terminal in raw mode for the guest's tty, and back to how it was on every way out:
 * `restore()` on the normal path (callers use try/finally), a process 'exit' handler (errors and
 * crashes end there too), and SIGINT/SIGTERM/SIGHUP/SIGQUIT handlers (in raw mode the keyboard
 * sends no signals, but `kill` still does). The first signal asks the session to stop through
 * `onSignal`; a second one exits at once.
 */

export interface TerminalStreams {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

/** Whether vkc runs attached to a real terminal: stdin and stdout are both TTYs. */
export function isInteractive(streams: Partial<TerminalStreams> | undefined): streams is TerminalStreams {
  return streams?.stdin?.isTTY === true && streams.stdout?.isTTY === true;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
const SIGNAL_NUMBERS: Record<(typeof SIGNALS)[number], number> = {
  SIGINT: 2,
  SIGTERM: 15,
  SIGHUP: 1,
  SIGQUIT: 3,
};

export interface RawTerminal {
  /** Put the terminal back (cooked mode, cursor shown); safe to call any number of times. */
  restore(): void;
}

/** Enter raw mode on `streams.stdin`; `onSignal(status)` is called with 128 + the signal number. */
export function enterRawMode(streams: TerminalStreams, onSignal: (status: number) => void): RawTerminal {
  const { stdin, stdout } = streams;
  let restored = false;
  let signalled = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off("exit", restore);
    for (const name of SIGNALS) process.off(name, handlers[name]);
    try {
      stdin.setRawMode(false);
    } catch {
      // stdin already closed (the terminal went away): nothing left to restore
    }
    stdin.pause();
    // Show the cursor in case the guest hid it; leave any alternate screen it opened.
    if (stdout.writable) stdout.write("\x1b[?25h");
  };
  const handlers = Object.fromEntries(
    SIGNALS.map((name) => [
      name,
      () => {
        if (signalled) {
          restore();
          process.exit(128 + SIGNAL_NUMBERS[name]);
        }
        signalled = true;
        onSignal(128 + SIGNAL_NUMBERS[name]);
      },
    ]),
  ) as Record<(typeof SIGNALS)[number], () => void>;
  process.on("exit", restore);
  for (const name of SIGNALS) process.on(name, handlers[name]);
  stdin.setRawMode(true);
  stdin.resume();
  return { restore };
}
