import type { CliIO } from "./main.ts";

/** A CliIO that records stdout and stderr: for tests, and for commands that run other commands (the demo). */
export function captureIO(): CliIO & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdout: () => out,
    stderr: () => err,
  };
}
