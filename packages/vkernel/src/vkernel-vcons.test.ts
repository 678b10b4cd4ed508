import { createKernel, guestProgram, ICANON, OPOST } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { VKERNEL_PATH } from "./vkernel-config.ts";
import { createVkernelProgram } from "./vkernel-program.ts";
import { concat } from "./vkernel-test-support.ts";

const INPUT = '2000000 "ab\\u0001q"\n';

describe("vcons: the console on the host tty", () => {
  it("keys typed on the host tty reach a guest's own tty (ttyraw), with the same output as on the host", async () => {
    const hostChunks: Uint8Array[] = [];
    const host = createKernel({ input: INPUT, console: { write: (b) => hostChunks.push(b.slice()) } });
    host.spawn({ path: "/bin/ttyraw", elf: guestProgram("ttyraw"), argv: ["ttyraw"] });
    const h = await host.run({ maxInstructions: 100_000_000 });

    const chunks: Uint8Array[] = [];
    const k = createKernel({
      input: INPUT,
      console: { write: (b) => chunks.push(b.slice()) },
      files: { "/guest/ttyraw": guestProgram("ttyraw") },
      natives: {
        [VKERNEL_PATH]: createVkernelProgram({
          vcpus: 1,
          memoryBytes: 8 * 1024 * 1024,
          guests: [{ path: "/guest/ttyraw", argv: ["ttyraw"] }],
        }),
      },
    });
    k.spawn({ path: VKERNEL_PATH, argv: ["vkernel"] });
    const r = await k.run({ maxInstructions: 100_000_000 });
    expect(h.exitStatus).toBe(0);
    expect(r.exitStatus).toBe(0);
    expect(new TextDecoder().decode(concat(chunks))).toBe(new TextDecoder().decode(concat(hostChunks)));
    // vcons_set_mode: the host tty is raw (the inner tty does the line discipline).
    expect(k.tty.termios.lflag & ICANON).toBe(0);
    expect(k.tty.termios.oflag & OPOST).toBe(0);
  });
});
