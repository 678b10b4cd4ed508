import {
  type CborMap,
  type CborValue,
  DEFAULT_LIMITS,
  decodeChecked,
  encodeCanonical,
  toCborValue,
} from "@vkc/checkpoint";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BridgeRegistry } from "../dev/bridge-registry.ts";
import type { Kernel, KernelOptions, RunResult } from "../kernel.ts";
import { createKernel } from "../kernel.ts";
import { guestElf, runToEnd, startGuest, text } from "./ckpt-test-support.ts";
import { describeKernel, pageBytes } from "./describe.ts";
import { rebuildKernel } from "./rebuild.ts";

/**
 * describeKernel / rebuildKernel (CHECKPOINT.md "Whole kernels"): the equivalence law for whole
 * kernels — run to t, describe (pages by value), canonical CBOR out and back, rebuild in a fresh
 * kernel, run on == the uninterrupted run (console bytes, exit status, instruction count, digest)
 * — and describe → rebuild → describe gives the same bytes.
 */

const TTY_INPUT = '300000 "ab"\n900000 "\\u0005c"\n1500000 "q"\n';

const PROGRAMS: readonly (readonly [string, readonly string[], string?])[] = [
  ["threads", ["4", "1000"]],
  ["pipes", ["64", "threads"]],
  ["sigdemo", []],
  ["memtouch", []],
  ["ttyraw", [], TTY_INPUT],
  ["forkdemo", []],
];

interface Whole {
  readonly out: string;
  readonly result: RunResult;
}

const wholeRuns = new Map<string, Promise<Whole>>();

function options(program: number, cpus: number, seed: number): KernelOptions {
  const input = (PROGRAMS[program] as (typeof PROGRAMS)[number])[2];
  return { cpus, seed, ...(input === undefined ? {} : { input }) };
}

function start(program: number, cpus: number, seed: number): ReturnType<typeof startGuest> {
  const [name, args] = PROGRAMS[program] as (typeof PROGRAMS)[number];
  return startGuest(name, args, options(program, cpus, seed));
}

function whole(program: number, cpus: number, seed: number): Promise<Whole> {
  const key = `${program}/${cpus}/${seed}`;
  let run = wholeRuns.get(key);
  if (run === undefined) {
    const g = start(program, cpus, seed);
    run = runToEnd(g.kernel).then((result) => ({ out: text(g.chunks), result }));
    wholeRuns.set(key, run);
  }
  return run;
}

/** Canonical CBOR out and back through @vkc/checkpoint's codec, as a vkernel's state region does. */
function roundTrip(desc: CborMap): { bytes: Uint8Array; back: CborMap } {
  const bytes = encodeCanonical(desc);
  return { bytes, back: toCborValue(decodeChecked(bytes, "description", DEFAULT_LIMITS), "d") as CborMap };
}

function rebuildGuest(
  desc: CborMap,
  program: number,
  chunks: Uint8Array[],
  extra: Parameters<typeof rebuildKernel>[1] = {},
): Kernel {
  const name = (PROGRAMS[program] as (typeof PROGRAMS)[number])[0];
  return rebuildKernel(desc, {
    ...extra,
    console: { write: (b) => chunks.push(b.slice()) },
    files: { [`/bin/${name}`]: guestElf(name) },
  });
}

/** Call after the run: `out` is read when called. */
function expectSame(out: string, result: RunResult, w: Whole): void {
  expect(out).toBe(w.out);
  expect(result.reason).toBe("exited");
  expect(result.exitStatus).toBe(w.result.exitStatus);
  expect(result.instructions).toBe(w.result.instructions);
  expect(result.digest).toBe(w.result.digest);
}

const caseArb = fc.record({
  program: fc.integer({ min: 0, max: PROGRAMS.length - 1 }),
  cpus: fc.constantFrom(1, 2, 4),
  seed: fc.integer({ min: 0, max: 0xffff_ffff }),
  at: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
});

describe("describeKernel / rebuildKernel", () => {
  it("the law: run to t, describe, CBOR, rebuild, run on == run to the end; re-describe is identical", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ program, cpus, seed, at }) => {
        const w = await whole(program, cpus, seed);
        const g = start(program, cpus, seed);
        const stop = await g.kernel.run({ stopAt: Math.max(1, Math.floor(w.result.instructions * at)) });
        if (stop.reason !== "stopped") return;
        const { bytes, back } = roundTrip(describeKernel(g.kernel, { pageRef: pageBytes }));
        const chunks = [...g.chunks];
        const kernel = rebuildGuest(back, program, chunks);
        const again = encodeCanonical(describeKernel(kernel, { pageRef: pageBytes }));
        expect(Buffer.compare(again, bytes)).toBe(0); // (a deep toEqual of ~1 MiB is slow)
        expect(kernel.result("stopped").digest).toBe(g.kernel.result("stopped").digest);
        const result = await runToEnd(kernel);
        expectSame(text(chunks), result, w);
      }),
      { numRuns: 20 },
    );
  }, 120_000);

  it("every program on 1, 2 and 4 CPUs at a fixed instant", async () => {
    for (let program = 0; program < PROGRAMS.length; program++) {
      for (const cpus of [1, 2, 4]) {
        const w = await whole(program, cpus, 9);
        const g = start(program, cpus, 9);
        await g.kernel.run({ stopAt: Math.floor(w.result.instructions * 0.6) });
        const chunks = [...g.chunks];
        const kernel = rebuildGuest(
          roundTrip(describeKernel(g.kernel, { pageRef: pageBytes })).back,
          program,
          chunks,
        );
        const result = await runToEnd(kernel);
        expectSame(text(chunks), result, w);
      }
    }
  }, 120_000);

  it("rebuilds onto another CPU count: the same output and exit status", async () => {
    for (const [program, from, to] of [
      [0, 2, 3],
      [5, 4, 1],
    ] as const) {
      const w = await whole(program, from, 12);
      const g = start(program, from, 12);
      await g.kernel.run({ stopAt: Math.floor(w.result.instructions * 0.4) });
      const chunks = [...g.chunks];
      const kernel = rebuildGuest(describeKernel(g.kernel, { pageRef: pageBytes }), program, chunks, {
        cpus: to,
      });
      expect(kernel.sched.cpus).toHaveLength(to);
      const result = await runToEnd(kernel);
      expect([result.reason, result.exitStatus, text(chunks)]).toEqual([
        "exited",
        w.result.exitStatus,
        w.out,
      ]);
    }
  }, 60_000);

  it("forkdemo: zombies, shared pipes and copy-on-write pages come back shared", async () => {
    const program = PROGRAMS.findIndex((p) => p[0] === "forkdemo");
    const w = await whole(program, 2, 4);
    const g = start(program, 2, 4);
    // Step to an instant with a zombie child (exited, not yet reaped) and several live processes.
    let zombie = false;
    for (let t = 20_000; t < w.result.instructions && !zombie; t += 20_000) {
      await g.kernel.run({ stopAt: t });
      zombie = [...g.kernel.procs.values()].some((p) => p.state === "zombie");
    }
    expect(zombie).toBe(true);
    const desc = describeKernel(g.kernel, { pageRef: pageBytes });
    const objects = desc.objects as readonly CborMap[];
    expect(objects.some((o) => (o.pages as readonly CborValue[][]).some((p) => p.length === 4))).toBe(true);
    const chunks = [...g.chunks];
    const kernel = rebuildGuest(roundTrip(desc).back, program, chunks);
    const states = (k: Kernel): string[] =>
      [...k.procs.values()].map((p) => `${p.pid}:${p.state}:${p.exitStatus}`);
    expect(states(kernel)).toEqual(states(g.kernel));
    // A page array the original shares between two objects is shared in the rebuilt kernel too.
    const sharing = (k: Kernel): number => {
      const seen = new Map<Uint8Array, number>();
      for (const p of k.procs.values())
        for (const e of p.vm.entries)
          for (const page of e.object.pages.values()) seen.set(page, (seen.get(page) ?? 0) + 1);
      return [...seen.values()].filter((n) => n > 1).length;
    };
    expect(sharing(kernel)).toBe(sharing(g.kernel));
    const result = await runToEnd(kernel);
    expectSame(text(chunks), result, w);
  }, 60_000);

  it("pageRef and adoptPage hooks: references instead of bytes, every page adopted once per place", async () => {
    const program = PROGRAMS.findIndex((p) => p[0] === "forkdemo");
    const w = await whole(program, 1, 2);
    const g = start(program, 1, 2);
    await g.kernel.run({ stopAt: Math.floor(w.result.instructions * 0.55) });
    const store: Uint8Array[] = [];
    const desc = describeKernel(g.kernel, {
      pageRef: (_o, _i, page) => {
        store.push(page.slice());
        return store.length - 1;
      },
    });
    const places = (desc.objects as readonly CborMap[]).reduce(
      (n, o) => n + (o.pages as readonly unknown[]).length,
      0,
    );
    expect(store.length).toBeLessThan(places); // shared pages got one reference
    let adopted = 0;
    const chunks = [...g.chunks];
    const kernel = rebuildGuest(roundTrip(desc).back, program, chunks, {
      adoptPage: (object, index, ref) => {
        adopted += 1;
        object.pages.set(index, (store[ref as number] as Uint8Array).slice());
      },
    });
    expect(adopted).toBe(places);
    const result = await runToEnd(kernel);
    expectSame(text(chunks), result, w);
  }, 60_000);

  it("configure runs before any object is made, so a page backend applies to rebuilt objects", async () => {
    const g = start(0, 2, 1);
    await g.kernel.run({ stopAt: 200_000 });
    const desc = describeKernel(g.kernel, { pageRef: pageBytes });
    const backend = {
      alloc: () => ({ page: new Uint8Array(4096), phys: 1 }),
      ref() {},
      release() {},
      written() {},
    };
    const kernel = rebuildKernel(desc, {
      files: { "/bin/threads": guestElf("threads") },
      configure: (k) => {
        k.ids.backend = backend;
      },
    });
    const objects = [...kernel.procs.values()].flatMap((p) => p.vm.entries.map((e) => e.object));
    expect(objects.filter((o) => o !== kernel.sigcode).every((o) => o.backend === backend)).toBe(true);
  });

  it("sockets and interfaces: udpecho and udpping on one kernel, rebuilt mid-exchange", async () => {
    const network = (): KernelOptions => {
      const bridges = new BridgeRegistry();
      bridges.create("br0");
      return {
        network: {
          bridges,
          interfaces: [{ name: "eth0", bridge: "br0", address: "10.0.0.1", prefixLength: 24 }],
        },
      };
    };
    const boot = (cpus: number): { kernel: Kernel; chunks: Uint8Array[] } => {
      const chunks: Uint8Array[] = [];
      const kernel = createKernel({
        ...network(),
        cpus,
        seed: 3,
        console: { write: (b) => chunks.push(b.slice()) },
      });
      kernel.spawn({ path: "/bin/udpecho", elf: guestElf("udpecho"), argv: ["udpecho", "7007", "3"] });
      kernel.spawn({
        path: "/bin/udpping",
        elf: guestElf("udpping"),
        argv: ["udpping", "10.0.0.1", "7007", "3"],
      });
      return { kernel, chunks };
    };
    for (const cpus of [1, 2]) {
      const w = boot(cpus);
      const wr = await runToEnd(w.kernel);
      expect(wr.exitStatus).toBe(0);
      let sockets = 0;
      for (const at of [0.1, 0.3, 0.5, 0.7, 0.9]) {
        const g = boot(cpus);
        await g.kernel.run({ stopAt: Math.floor(wr.instructions * at) });
        const desc = roundTrip(describeKernel(g.kernel, { pageRef: pageBytes })).back;
        sockets += (desc.processes as readonly CborMap[]).reduce(
          (n, p) => n + (p.descriptors as readonly CborMap[]).filter((d) => d.kind === "socket").length,
          0,
        );
        const chunks = [...g.chunks];
        const kernel = rebuildKernel(desc, {
          ...network(),
          console: { write: (b) => chunks.push(b.slice()) },
        });
        const result = await runToEnd(kernel);
        expectSame(text(chunks), result, { out: text(w.chunks), result: wr });
      }
      expect(sockets).toBeGreaterThan(0);
    }
  }, 60_000);
});
