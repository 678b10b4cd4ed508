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

  test("an unknown option exits 2", async () => {
    const io = capture();
    expect(await main(["--no-such-flag"], io)).toBe(2);
    expect(io.stderr()).toMatch(/unknown option/);
  });
});
