import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createKernel, type KernelOptions, type RunResult } from "./kernel.ts";

/** The guest example programs (guest/bin/*.elf) against their expected output (guest/expected). */
const GUEST = join(import.meta.dirname, "..", "guest");

interface GuestCase {
  name: string;
  program: string;
  args: string[];
  exitStatus: number;
  stdout: string;
  runsUnder: string[];
}

const cases: GuestCase[] = existsSync(join(GUEST, "expected", "cases.json"))
  ? (JSON.parse(readFileSync(join(GUEST, "expected", "cases.json"), "utf8")) as { cases: GuestCase[] }).cases
  : [];

async function runGuest(
  program: string,
  args: readonly string[],
  options: KernelOptions = {},
): Promise<{ out: string; result: RunResult }> {
  const chunks: Uint8Array[] = [];
  const k = createKernel({ ...options, console: { write: (b) => chunks.push(b.slice()) } });
  const elf = readFileSync(join(GUEST, "bin", `${program}.elf`));
  k.spawn({ path: `/bin/${program}`, elf, argv: [program, ...args] });
  const result = await k.run({ maxInstructions: 2_000_000_000 });
  return { out: Buffer.concat(chunks).toString("utf8").replaceAll("\r\n", "\n"), result };
}

describe("guest programs", () => {
  const runnable = cases.filter((c) => c.runsUnder.includes("vkc"));
  it("has guest programs to run", () => {
    expect(runnable.length).toBeGreaterThan(5);
  });

  for (const c of runnable) {
    it(`${c.name}: prints the expected output and exits with ${c.exitStatus}`, async () => {
      const { out, result } = await runGuest(c.program, c.args);
      expect(result.reason).toBe("exited");
      const expected = readFileSync(join(GUEST, "expected", c.stdout), "utf8");
      // fds 1 and 2 are the same console tty: a case that expects no stdout printed to stderr.
      if (expected === "") expect(out).toMatch(/usage/);
      else expect(out).toBe(expected);
      expect(result.exitStatus).toBe(c.exitStatus);
    }, 60_000);
  }

  const threadsExpected = (): string => readFileSync(join(GUEST, "expected", "threads.txt"), "utf8");
  for (const cpus of [1, 2, 4]) {
    for (const seed of [1, 99, 0xdeadbeef]) {
      it(`threads on ${cpus} CPU(s), seed ${seed}: right checksum`, async () => {
        const { out, result } = await runGuest("threads", [], { cpus, seed });
        expect(result.exitStatus).toBe(0);
        expect(out).toBe(threadsExpected());
      }, 60_000);
    }
  }

  it("gives the same digest twice for the same seed, CPUs and input", async () => {
    const a = await runGuest("threads", [], { cpus: 4, seed: 5 });
    const b = await runGuest("threads", [], { cpus: 4, seed: 5 });
    expect(a.result.digest).toBe(b.result.digest);
    expect(a.result.instructions).toBe(b.result.instructions);
    const c = await runGuest("threads", [], { cpus: 4, seed: 6 });
    expect(c.result.digest).not.toBe(a.result.digest);
  }, 60_000);

  it("ttyraw reads scripted keys in raw mode (no ISIG: ^C is a key) and restores the mode", async () => {
    const { out, result } = await runGuest("ttyraw", [], { input: '100000 "ab\\u0003"\n+100000 "q"\n' });
    expect(result.exitStatus).toBe(0);
    expect(out).toContain("raw mode on");
    expect(out).toContain("key 3: 0x03");
    expect(out).toContain("4 key(s)");
    expect(out).toContain("mode restored");
    expect(result.time).toBeGreaterThanOrEqual(200_000);
  }, 60_000);

  it("stopping at an instant and running on gives the same end state as one run", async () => {
    const whole = await runGuest("threads", [], { cpus: 4, seed: 8 });
    const chunks: Uint8Array[] = [];
    const k = createKernel({ cpus: 4, seed: 8, console: { write: (b) => chunks.push(b.slice()) } });
    k.spawn({
      path: "/bin/threads",
      elf: readFileSync(join(GUEST, "bin", "threads.elf")),
      argv: ["threads"],
    });
    for (const t of [1_000, 50_001, 123_457]) {
      const r = await k.run({ stopAt: t });
      expect(r.reason).toBe("stopped");
      expect(r.instructions).toBe(t);
    }
    const end = await k.run();
    expect(end.digest).toBe(whole.result.digest);
    expect(Buffer.concat(chunks).toString("utf8").replaceAll("\r\n", "\n")).toBe(whole.out);
  }, 60_000);

  it("property: pausing at random instants never changes the outcome", async () => {
    const elf = readFileSync(join(GUEST, "bin", "pipes.elf"));
    const reference = await runGuest("pipes", ["64", "threads"], { cpus: 2, seed: 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: reference.result.instructions - 1 }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (instants) => {
          const chunks: Uint8Array[] = [];
          const k = createKernel({ cpus: 2, seed: 3, console: { write: (b) => chunks.push(b.slice()) } });
          k.spawn({ path: "/bin/pipes", elf, argv: ["pipes", "64", "threads"] });
          for (const t of [...instants].sort((a, b) => a - b)) {
            expect((await k.run({ stopAt: t })).instructions).toBe(t);
          }
          const end = await k.run();
          expect(end.digest).toBe(reference.result.digest);
          expect(Buffer.concat(chunks).toString("utf8").replaceAll("\r\n", "\n")).toBe(reference.out);
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});
