/**
 * The console's escape key: ^] (0x1d, as in telnet and `virsh console`) followed by one command
 * key. Everything else goes to the guest unchanged, byte for byte.
 *
 *   ^] q   quit: end the guest and vkc (exit status 130)
 *   ^] ^]  send one ^] to the guest
 *   ^] ?   print the escape keys
 *   ^] x   (any other key) send ^] and x to the guest
 */

export const ESCAPE_KEY = 0x1d;

export type ConsoleCommand = "quit" | "help";

export interface KeyChunk {
  /** Bytes for the guest's tty, in order. */
  readonly forward: Uint8Array;
  /** A command typed after the escape key; bytes after it in the same chunk are dropped. */
  readonly command?: ConsoleCommand;
}

export const ESCAPE_HELP = "vkc console keys: ^] q quit, ^] ^] send ^], ^] ? this help";

/** A parser of typed bytes that keeps the "escape key pending" state across chunks. */
export class EscapeParser {
  private pending = false;

  /** Split one chunk of typed bytes into what goes to the guest and a console command, if any. */
  push(chunk: Uint8Array): KeyChunk {
    const forward: number[] = [];
    for (const byte of chunk) {
      if (!this.pending) {
        if (byte === ESCAPE_KEY) this.pending = true;
        else forward.push(byte);
        continue;
      }
      this.pending = false;
      if (byte === 0x71 /* q */ || byte === 0x51 /* Q */) {
        return { forward: Uint8Array.from(forward), command: "quit" };
      }
      if (byte === 0x3f /* ? */) return { forward: Uint8Array.from(forward), command: "help" };
      if (byte === ESCAPE_KEY) forward.push(ESCAPE_KEY);
      else forward.push(ESCAPE_KEY, byte);
    }
    return { forward: Uint8Array.from(forward) };
  }
}
