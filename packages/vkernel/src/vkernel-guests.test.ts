import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { innerResult, runInVkernel, runOnHost, type TestGuest } from "./vkernel-test-support.ts";

interface Case {
  name: string;
  program: string;
  args: string[];
  exitStatus: number;
  stdout: string;
  runsUnder: string[];
}

const expectedDir = new URL("../../host-kernel/guest/expected/", import.meta.url);
const cases = (
  JSON.parse(readFileSync(new URL("cases.json", expectedDir), "utf8")) as { cases: Case[] }
).cases.filter((c) => c.runsUnder.includes("vkc"));
const dec = new TextDecoder();
const lf = (s: string): string => s.replaceAll("\r\n", "\n");
const guestOf = (c: Case): TestGuest => ({ program: c.program, args: c.args }) as TestGuest;

describe("every vkc guest case prints the same bytes and exits the same inside the vkernel", () => {
  for (const c of cases) {
    it(`${c.name} on 1 vCPU: same bytes, status and final inner machine state as on the host`, async () => {
      const host = await runOnHost(guestOf(c));
      const vk = await runInVkernel([guestOf(c)]);
      expect(dec.decode(vk.out)).toBe(dec.decode(host.out));
      if (c.exitStatus === 0)
        expect(lf(dec.decode(vk.out))).toBe(readFileSync(new URL(c.stdout, expectedDir), "utf8"));
      expect(vk.status).toBe(c.exitStatus);
      expect(vk.result.reason).toBe("exited");
      // Exact inner accounting (frame words 148/152/156): the same instructions, time and state.
      expect(innerResult(vk).digest).toBe(host.result.digest);
    });
  }
});

describe("SMP: the same output on 2 and 4 vCPUs as on a host with as many CPUs", () => {
  const smp = cases.filter((c) =>
    ["threads-16-20000", "pipes-threads", "forkdemo-3", "threads"].includes(c.name),
  );
  for (const c of smp) {
    for (const vcpus of [2, 4]) {
      it(`${c.name} on ${vcpus} vCPUs`, async () => {
        const host = await runOnHost(guestOf(c), { cpus: vcpus });
        const vk = await runInVkernel([guestOf(c)], { vcpus });
        expect(dec.decode(vk.out)).toBe(dec.decode(host.out));
        expect(vk.status).toBe(c.exitStatus);
        // LR reservations are per inner thread (VMFRAME_TAGGED), not per vCPU: threads of a
        // process alternating on one vCPU inside LR/SC loops count as on the host.
        expect(innerResult(vk).digest).toBe(host.result.digest);
      });
    }
  }

  it("two guests side by side: both run, the first one's status is the vkernel's", async () => {
    const vk = await runInVkernel(
      [
        { program: "primes", args: ["many"] },
        { program: "hello", args: ["x"] },
      ],
      { vcpus: 2 },
    );
    expect(dec.decode(vk.out)).toContain("usage: primes");
    expect(dec.decode(vk.out)).toContain("Hello from a vkc guest!");
    expect(vk.status).toBe(2);
  });
});
