import { InputScriptError } from "../errors.ts";

/** One scripted input event: tty bytes, or a window-size change, at a virtual time (ns). */
export type InputEvent =
  | { readonly at: number; readonly bytes: Uint8Array }
  | { readonly at: number; readonly winsize: { readonly rows: number; readonly cols: number } };

/**
 * Parse an input script. One event per line:
 *
 *     <time> <JSON string>          tty bytes (UTF-8 of the string), e.g.  2000000 "ls\n"
 *     <time> winsize <rows> <cols>  a terminal resize (SIGWINCH to the foreground group)
 *
 * `<time>` is virtual nanoseconds (= retired instructions on one CPU), a decimal integer, with
 * an optional `_` separator; `+<n>` means n after the previous event. Blank lines and lines
 * starting with `#` are ignored. Events are delivered at the first round boundary at or after
 * their time (see KERNEL.md); events with equal times keep their order.
 */
export function parseInputScript(text: string): InputEvent[] {
  const events: InputEvent[] = [];
  let last = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(\+?)([0-9][0-9_]*)\s+(.*)$/.exec(line);
    if (m === null)
      throw new InputScriptError(lineNo, "expected `<time> <JSON string>` or `<time> winsize R C`");
    const n = Number((m[2] as string).replaceAll("_", ""));
    if (!Number.isSafeInteger(n)) throw new InputScriptError(lineNo, "time out of range");
    const at = m[1] === "+" ? last + n : n;
    if (at < last) throw new InputScriptError(lineNo, `time ${at} is before the previous event (${last})`);
    last = at;
    const rest = (m[3] as string).trim();
    const ws = /^winsize\s+(\d+)\s+(\d+)$/.exec(rest);
    if (ws !== null) {
      events.push({ at, winsize: { rows: Number(ws[1]), cols: Number(ws[2]) } });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(rest);
    } catch {
      throw new InputScriptError(lineNo, "the data is not a JSON string");
    }
    if (typeof value !== "string") throw new InputScriptError(lineNo, "the data is not a JSON string");
    events.push({ at, bytes: new TextEncoder().encode(value) });
  });
  return events;
}
