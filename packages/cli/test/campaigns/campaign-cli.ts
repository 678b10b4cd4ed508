import { captureIO } from "../../src/io-capture.ts";
import { main } from "../../src/main.ts";

/** Runs `vkc ARGS` in this process; returns the status, stdout and stderr. */
export async function vkc(args: readonly string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIO();
  const status = await main(args, io);
  return { status, out: io.stdout(), err: io.stderr() };
}

/** The JSON lines of a `--json` run. */
export function jsonLines(out: string): Record<string, unknown>[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
