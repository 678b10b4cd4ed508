import { createWriteStream, type WriteStream } from "node:fs";
import type { CliIO } from "./main.ts";

/** Where the guest's console goes: stdout, or a file (`--console FILE`). */
export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export function openConsole(io: CliIO, file: string | undefined): ConsoleOutput {
  if (file === undefined) {
    const decoder = new TextDecoder();
    return {
      write: (bytes) => io.out(decoder.decode(bytes, { stream: true })),
      close: async () => {},
    };
  }
  const stream: WriteStream = createWriteStream(file);
  let failure: Error | undefined;
  stream.on("error", (e) => {
    failure = e;
  });
  return {
    write: (bytes) => {
      stream.write(bytes);
    },
    close: () =>
      new Promise((resolve, reject) => {
        stream.end(() => (failure ? reject(failure) : resolve()));
      }),
  };
}

/** `--json`: one JSON object per line on stdout for vkc's own events and results. */
export function jsonEvent(io: CliIO, event: string, fields: Record<string, unknown>): void {
  io.out(`${JSON.stringify({ event, ...fields })}\n`);
}
