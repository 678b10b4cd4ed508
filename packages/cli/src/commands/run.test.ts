import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const guest = (name: string) => join(import.meta.dirname, "../../../host-kernel/guest/bin", `${name}.elf`);

describe("vkc run", () => {
  test("runs a program with its arguments, guest output on stdout, exit status the guest's", async () => {
    const io = captureIO();
    const status = await main(["run", guest("hello"), "one", "--two"], io);
    expect(status).toBe(0);
    expect(io.stdout()).toMatch(/argv\[1\]: "one"/);
    expect(io.stdout()).toMatch(/argv\[2\]: "--two"/);
    expect(io.stderr()).toBe("");
  });

  test("--json prints an exit event with status, instructions and a digest; same seed, same digest", async () => {
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const io = captureIO();
      const dir = mkdtempSync(join(tmpdir(), "vkc-run-"));
      const console = join(dir, "console.txt");
      expect(
        await main(
          ["run", "--json", "--cpus", "2", "--seed", "5", "--console", console, guest("threads")],
          io,
        ),
      ).toBe(0);
      expect(readFileSync(console, "utf8")).toMatch(/threads: ok/);
      const event = JSON.parse(io.stdout().trim()) as Record<string, unknown>;
      expect(event).toMatchObject({ event: "exit", reason: "exited", status: 0 });
      expect(event.instructions).toBeGreaterThan(1000);
      digests.push(String(event.digest));
    }
    expect(digests[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(digests[1]).toBe(digests[0]);
  });

  test("a missing file, a non-ELF file and a bad flag give one line and the right exit status", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-run-"));
    const notElf = join(dir, "notes.txt");
    writeFileSync(notElf, "hello");
    const cases: [string[], number, RegExp][] = [
      [["run", join(dir, "missing.elf")], 1, /cannot read ELF file .*missing\.elf: no such file/],
      [["run", notElf], 1, /not an ELF file/],
      [["run", "--cpus", "99", notElf], 2, /--cpus must be a whole number from 1 to 64/],
      [
        ["run", "--console", join(dir, "no", "such", "dir", "out.txt"), guest("hello")],
        1,
        /cannot write console file .*out\.txt: its directory does not exist/,
      ],
    ];
    for (const [argv, status, message] of cases) {
      const io = captureIO();
      expect(await main(argv, io)).toBe(status);
      expect(io.stderr().trimEnd().split("\n")).toHaveLength(1);
      expect(io.stderr()).toMatch(message);
    }
  });

  test("scripted tty input reaches the guest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-run-"));
    const script = join(dir, "input.txt");
    writeFileSync(script, '1000 "ab"\n+1000 "q"\n');
    const io = captureIO();
    const status = await main(["run", "--input", script, guest("ttyraw")], io);
    expect(status).toBe(0);
    expect(io.stdout()).toMatch(/61/);
    expect(io.stdout()).toMatch(/62/);
  });
});
