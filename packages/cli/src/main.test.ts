import { describe, expect, test } from "vitest";
import { captureIO as capture } from "./io-capture.ts";
import { main } from "./main.ts";

describe("vkc main", () => {
  test("--help lists commands and exits 0", async () => {
    const io = capture();
    expect(await main(["--help"], io)).toBe(0);
    expect(io.stdout()).toMatch(/Usage: vkc/);
    expect(io.stdout()).toMatch(/demo/);
  });

  test("--version prints the package version", async () => {
    const io = capture();
    expect(await main(["--version"], io)).toBe(0);
    expect(io.stdout().trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("an unknown command exits 2 with exactly one line on stderr", async () => {
    const io = capture();
    expect(await main(["no-such-command"], io)).toBe(2);
    expect(io.stdout()).toBe("");
    const lines = io.stderr().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vkc: unknown command 'no-such-command'/);
  });

  test("a failure is one line; --debug, before or after the command, adds the stack", async () => {
    const plain = capture();
    expect(await main(["run", "no-such.elf"], plain)).toBe(1);
    expect(plain.stderr()).toBe("vkc: cannot read ELF file no-such.elf: no such file\n");
    for (const argv of [
      ["--debug", "run", "no-such.elf"],
      ["run", "--debug", "no-such.elf"],
      ["images", "ls", "--debug", "--store", "nope:/x"],
    ]) {
      const io = capture();
      expect(await main(argv, io), argv.join(" ")).toBeGreaterThan(0);
      const [first, ...stack] = io.stderr().trimEnd().split("\n");
      expect(first).toMatch(/^vkc: (cannot read ELF file|unknown store scheme)/);
      expect(stack.join("\n")).toMatch(/^\w*Error: [\s\S]*\n {4}at /);
    }
    // Hidden: not in the help or the completion, which list what a user types.
    const help = capture();
    await main(["run", "--help"], help);
    expect(help.stdout()).not.toContain("--debug");
  });

  test("an unknown option exits 2", async () => {
    const io = capture();
    expect(await main(["--no-such-flag"], io)).toBe(2);
    expect(io.stderr()).toMatch(/unknown option/);
  });
});
