import { createKernel, guestProgram, ICANON, OPOST } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { VKERNEL_PATH } from "./vkernel-config.ts";
import { createVkernelProgram } from "./vkernel-program.ts";
import { concat, vkernelOf } from "./vkernel-test-support.ts";

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

  it("the inner console has the host terminal's size at boot and follows its resizes", async () => {
    const k = createKernel({
      console: { write: () => {} },
      files: { "/guest/ttyraw": guestProgram("ttyraw") },
      natives: {
        [VKERNEL_PATH]: createVkernelProgram({
          vcpus: 2,
          memoryBytes: 8 * 1024 * 1024,
          guests: [{ path: "/guest/ttyraw", argv: ["ttyraw"] }],
        }),
      },
    });
    k.tty.setWinsize({ rows: 33, cols: 99, xpixel: 0, ypixel: 0 });
    k.spawn({ path: VKERNEL_PATH, argv: ["vkernel"] });
    // ttyraw waits for a key: with no input to come, the run stops there.
    expect((await k.run({ maxInstructions: 100_000_000 })).reason).toBe("deadlock");
    expect(vkernelOf(k)?.inner.tty.winsize).toMatchObject({ rows: 33, cols: 99 });
    // A resize: the host's SIGWINCH runs the vkernel's handler, which sets the inner tty's size.
    k.tty.setWinsize({ rows: 50, cols: 132, xpixel: 0, ypixel: 0 });
    expect((await k.run({ maxInstructions: 100_000_000 })).reason).toBe("deadlock");
    expect(vkernelOf(k)?.inner.tty.winsize).toMatchObject({ rows: 50, cols: 132 });
    k.ttyInput(new TextEncoder().encode("q"));
    expect((await k.run({ maxInstructions: 100_000_000 })).exitStatus).toBe(0);
  });
});
