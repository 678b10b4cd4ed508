import { closeSync, openSync, writeSync } from "node:fs";
import { CliError } from "./errors.ts";
import type { CliIO } from "./main.ts";

/** Where the guest's console goes: stdout, or a file (`--console FILE`). */
export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
}

/**
 * The guest's console is a terminal: its tty turns "\n" into "\r\n" (ONLCR). Shown on a real
 * terminal that is right; written to a file or a pipe, vkc renders it as text lines, as
 * `script -q` users would expect, by turning "\r\n" back into "\n".
 */
export class NewlineRenderer {
  private pendingCR = false;

  render(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.pendingCR) {
        this.pendingCR = false;
        if (b !== 0x0a) out.push(0x0d);
      }
      if (b === 0x0d) this.pendingCR = true;
      else out.push(b);
    }
    return Uint8Array.from(out);
  }

  /** A lone "\r" still held back at the end of output. */
  flush(): Uint8Array {
    const rest = this.pendingCR ? Uint8Array.of(0x0d) : new Uint8Array(0);
    this.pendingCR = false;
    return rest;
  }
}

export function openConsole(
  io: CliIO,
  file: string | undefined,
  { terminal = file === undefined && process.stdout.isTTY === true }: { terminal?: boolean } = {},
): ConsoleOutput {
  const renderer = terminal ? undefined : new NewlineRenderer();
  const render = (bytes: Uint8Array) => (renderer ? renderer.render(bytes) : bytes);
  if (file === undefined) {
    const decoder = new TextDecoder();
    return {
      write: (bytes) => io.out(decoder.decode(render(bytes), { stream: true })),
      close: async () => {
        const rest = decoder.decode(renderer?.flush() ?? new Uint8Array(0));
        if (rest) io.out(rest);
      },
    };
  }
  // Opened now, so a bad path is one clear line before the guest runs; written synchronously, so
  // no write error can go unnoticed (console output is small next to a run).
  const fd = openConsoleFile(file);
  const writeAll = (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  };
  return {
    write: (bytes) => writeAll(render(bytes)),
    close: async () => {
      const rest = renderer?.flush();
      if (rest?.length) writeAll(rest);
      closeSync(fd);
    },
  };
}

function openConsoleFile(file: string): number {
  try {
    return openSync(file, "w");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "its directory does not exist"
        : code === "EISDIR"
          ? "it is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (code ?? String(error));
    throw new CliError("CONSOLE_FILE", `cannot write console file ${file}: ${why}`, { cause: error });
  }
}

/** `--json`: one JSON object per line on stdout for vkc's own events and results. */
export function jsonEvent(io: CliIO, event: string, fields: Record<string, unknown>): void {
  io.out(`${JSON.stringify({ event, ...fields })}\n`);
}
