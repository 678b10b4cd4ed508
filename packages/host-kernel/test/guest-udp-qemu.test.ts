/**
 * udpecho and udpping under qemu-riscv32, talking to each other through real sockets on
 * loopback: they print exactly the lines they print under vkc (src/net/net-guest.test.ts checks
 * the same expected files), so the same binaries behave the same on both. Missing qemu fails
 * (never skips) with the command that installs it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const guestDir = fileURLToPath(new URL("../guest/", import.meta.url));
const elf = (name: string) => join(guestDir, "bin", `${name}.elf`);
const expected = (name: string, port: number) =>
  readFileSync(join(guestDir, "expected", "net", name), "utf8").replaceAll("7007", String(port));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

/** A UDP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe("udpecho and udpping under qemu-riscv32 on real loopback sockets", () => {
  it("print the same lines as under vkc", async () => {
    const probe = spawnSync("qemu-riscv32", ["--version"]);
    if (probe.error !== undefined)
      throw new Error("qemu-riscv32 is not on PATH; install it with: apt-get install -y qemu-user");
    const port = await freePort();
    const echo = spawn("qemu-riscv32", [elf("udpecho"), String(port), "3"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(echo);
    let echoOut = "";
    let echoErr = "";
    echo.stdout.on("data", (b: Buffer) => {
      echoOut += b.toString();
    });
    echo.stderr.on("data", (b: Buffer) => {
      echoErr += b.toString();
    });
    const echoExit = new Promise<number | null>((resolve) => echo.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!echoOut.includes("listening") && echo.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(echoOut, echoErr).toContain("listening");

    const ping = spawnSync("qemu-riscv32", [elf("udpping"), "127.0.0.1", String(port), "3"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(ping.stdout, ping.stderr).toBe(expected("udpping-loopback.txt", port));
    expect(ping.status).toBe(0);
    expect(await echoExit).toBe(0);
    expect(echoOut).toBe(expected("udpecho-loopback.txt", port));
  }, 60_000);
});
