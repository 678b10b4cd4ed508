import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LawOutcome,
  lawCheckpointed,
  lawReference,
  type TestGuest,
  vkernelOf,
} from "./vkernel-test-support.ts";

/** Small boots (one or several guests), so every property run stays fast. */
const BOOTS: readonly (readonly TestGuest[])[] = [
  [{ program: "threads", args: ["3", "1500"] }],
  [{ program: "pipes", args: [] }],
  [{ program: "forkdemo", args: ["2"] }],
  [{ program: "sigdemo", args: [] }],
  [
    { program: "primes", args: ["2000"] },
    { program: "threads", args: ["2", "1000"] },
    { program: "hello", args: ["law"] },
  ],
];

const references = new Map<string, Promise<LawOutcome & { instructions: number }>>();
function reference(g: readonly TestGuest[], vcpus: number): Promise<LawOutcome & { instructions: number }> {
  const key = `${JSON.stringify(g)} ${vcpus}`;
  let r = references.get(key);
  if (r === undefined) {
    r = (async () => {
      const { runInVkernel, innerResult } = await import("./vkernel-test-support.ts");
      const run = await runInVkernel(g, { vcpus });
      return {
        out: new TextDecoder().decode(run.out),
        status: run.status,
        digest: innerResult(run).digest,
        instructions: run.result.instructions,
      };
    })();
    references.set(key, r);
  }
  return r;
}

const same = (got: LawOutcome & { checkpointed?: boolean }, want: LawOutcome): void => {
  expect(got.checkpointed).toBe(true);
  expect(got.out).toBe(want.out);
  expect(got.status).toBe(want.status);
  expect(got.digest).toBe(want.digest);
};

describe("the equivalence law for vkernel boots (fast-check, random instants)", () => {
  it("(1) run == run to t + SIGCKPTEXIT + thaw in a fresh host kernel + run on", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...BOOTS),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0.02, max: 0.98, noNaN: true }),
        async (g, vcpus, frac) => {
          const want = await reference(g, vcpus);
          const got = await lawCheckpointed(g, { vcpus }, Math.floor(want.instructions * frac), "exit");
          same(got, want);
        },
      ),
      { numRuns: 5, seed: 6 },
    );
  }, 120_000);

  it("(2) run with SIGCKPT at t == run without it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...BOOTS),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0.02, max: 0.98, noNaN: true }),
        async (g, vcpus, frac) => {
          const want = await reference(g, vcpus);
          const got = await lawCheckpointed(g, { vcpus }, Math.floor(want.instructions * frac), "continue");
          same(got, want);
        },
      ),
      { numRuns: 5, seed: 7 },
    );
  }, 120_000);
});

describe("the law at named instants", () => {
  it("a vCPU idle: SIGCKPTEXIT sent to the idle vCPU 1 of 2 (its kthread does the work)", async () => {
    const g: TestGuest = { program: "primes", args: ["3000"] };
    const want = await lawReference([g], { vcpus: 2 });
    const got = await lawCheckpointed(
      [g],
      { vcpus: 2 },
      (k) => k.instructions > 20_000,
      "exit",
      (k, pid) =>
        k.procs
          .get(pid)
          ?.lwps.find(
            (l) =>
              l.tid !== pid &&
              (l.hart as { ctx?: { role?: string; state?: { cpu?: number } } }).ctx?.state?.cpu === 1,
          ),
    );
    expect(got.reached).toBe(true);
    same(got, want);
  });

  it("during boot (the signal waits until the vCPUs run) and before a new vCPU's first step", async () => {
    const g: TestGuest = { program: "threads", args: ["2", "500"] };
    const want = await lawReference([g], { vcpus: 2 });
    for (const at of [3, 12, 30]) {
      const got = await lawCheckpointed([g], { vcpus: 2 }, at, "exit");
      same(got, want);
    }
  });

  it("a guest inside a blocking syscall (a pipe reader asleep in read)", async () => {
    const g: TestGuest = { program: "pipes", args: ["64", "threads"] };
    const want = await lawReference([g], { vcpus: 1 });
    const got = await lawCheckpointed(
      [g],
      { vcpus: 1 },
      (k) => {
        const vk = vkernelOf(k);
        return (
          vk !== undefined &&
          [...vk.inner.lwps.values()].some((l) => l.state === "sleeping" && l.syscall?.nr === 63)
        );
      },
      "exit",
    );
    expect(got.reached).toBe(true);
    same(got, want);
  });

  it("right after a fork (pages shared copy-on-write, the child not run yet)", async () => {
    const g: TestGuest = { program: "forkdemo", args: ["2"] };
    for (const vcpus of [1, 2]) {
      const want = await lawReference([g], { vcpus });
      const got = await lawCheckpointed(
        [g],
        { vcpus },
        (k) => {
          const vk = vkernelOf(k);
          return vk !== undefined && vk.inner.procs.size > 1;
        },
        "exit",
      );
      expect(got.reached).toBe(true);
      same(got, want);
    }
  });
});
