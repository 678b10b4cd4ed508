import type { CborMap, CborValue } from "@vkc/checkpoint";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { HostKernelError } from "../errors.ts";
import { guestElf, startGuest } from "./ckpt-test-support.ts";
import { describeKernel, pageBytes } from "./describe.ts";
import { type RebuildOptions, rebuildKernel } from "./rebuild.ts";

/**
 * Hostile descriptions: a real description (forkdemo mid-run: several processes, shared pipes,
 * copy-on-write pages), mutated — wrong types, huge or negative numbers, duplicated elements,
 * dropped keys, dangling references — is either rebuilt or refused with a one-line
 * `RebuildError` naming the field; never a TypeError, a RangeError or a hang.
 */

type Mutable = { [key: string]: MutableValue };
type MutableValue = CborValue | Mutable | MutableValue[];

let base: CborMap;
/** Paths (keys and indexes) of every node of `base` except page contents. */
let paths: (string | number)[][];

const OPTIONS: RebuildOptions = { files: { "/bin/forkdemo": guestElf("forkdemo") } };

function collect(v: CborValue, path: (string | number)[], out: (string | number)[][]): void {
  out.push(path);
  if (v instanceof Uint8Array || v === null || typeof v !== "object") return;
  if (Array.isArray(v)) {
    (v as readonly CborValue[]).forEach((x, i) => {
      collect(x, [...path, i], out);
    });
  } else for (const [k, x] of Object.entries(v as CborMap)) collect(x, [...path, k], out);
}

function clone(): Mutable {
  return structuredClone(base) as unknown as Mutable;
}

/** Apply `f` to the parent of `path` and its last key. */
function at(
  root: Mutable,
  path: readonly (string | number)[],
  f: (parent: Mutable, key: string | number) => void,
): void {
  let node: MutableValue = root;
  for (const key of path.slice(0, -1)) node = (node as Mutable)[key as string] as MutableValue;
  f(node as Mutable, path[path.length - 1] as string | number);
}

function expectRebuiltOrRefused(desc: Mutable): void {
  try {
    const kernel = rebuildKernel(desc as unknown as CborMap, OPTIONS);
    // A description that passes is a kernel that can be described and run a little.
    describeKernel(kernel, { pageRef: pageBytes });
    kernel.runSync({ maxInstructions: 50_000 });
  } catch (error) {
    if (!(error instanceof HostKernelError) || error.code !== "CKPT_REBUILD") throw error;
    expect(error.message).not.toContain("\n");
  }
}

function refused(desc: Mutable): string {
  try {
    rebuildKernel(desc as unknown as CborMap, OPTIONS);
  } catch (error) {
    if (error instanceof HostKernelError && error.code === "CKPT_REBUILD") return error.message;
    throw error;
  }
  throw new Error("the description was rebuilt");
}

const HOSTILE: readonly CborValue[] = [
  null,
  true,
  -1,
  0,
  1.5,
  4097,
  2 ** 31,
  Number.MAX_SAFE_INTEGER,
  "x",
  "",
  new Uint8Array(3),
  [],
  [1, 2],
  {},
  { v: 1 },
];

beforeAll(async () => {
  const g = startGuest("forkdemo", [], { cpus: 2, seed: 6 });
  for (let t = 20_000; ; t += 20_000) {
    await g.kernel.run({ stopAt: t });
    if (g.kernel.procs.size >= 3) break;
  }
  base = describeKernel(g.kernel, { pageRef: pageBytes });
  paths = [];
  collect(base, [], paths);
});

describe("rebuildKernel on hostile descriptions", () => {
  it("the unmutated description rebuilds", () => {
    expectRebuiltOrRefused(clone());
    expect(() => rebuildKernel(base, OPTIONS)).not.toThrow();
  });

  it("any field replaced by a value of another type or range: rebuilt or a RebuildError", () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...HOSTILE), (n, value) => {
        const path = paths[n % paths.length] as (string | number)[];
        const desc = clone();
        if (path.length === 0) return;
        at(desc, path, (parent, key) => {
          (parent as Record<string | number, MutableValue>)[key] = structuredClone(value);
        });
        expectRebuiltOrRefused(desc);
      }),
      { numRuns: 400 },
    );
  });

  it("elements duplicated or dropped, keys deleted: rebuilt or a RebuildError", () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom("duplicate", "drop", "delete"), (n, how) => {
        const path = paths[n % paths.length] as (string | number)[];
        const desc = clone();
        if (path.length === 0) return;
        at(desc, path, (parent, key) => {
          if (Array.isArray(parent)) {
            const list = parent as MutableValue[];
            if (how === "duplicate") list.push(structuredClone(list[key as number]) as MutableValue);
            else list.splice(key as number, 1);
          } else delete (parent as Record<string, MutableValue>)[key as string];
        });
        expectRebuiltOrRefused(desc);
      }),
      { numRuns: 300 },
    );
  });

  it("names the field: duplicate tids and pids, dangling objects, fds past the limit, huge counts", () => {
    const procs = (d: Mutable): Mutable[] => d.processes as Mutable[];
    const lwps = (d: Mutable, i: number): Mutable[] => (procs(d)[i] as Mutable).lwps as Mutable[];
    let d = clone();
    (lwps(d, 1)[0] as Mutable).tid = (lwps(d, 0)[0] as Mutable).tid as number;
    expect(refused(d)).toMatch(
      /^cannot rebuild the kernel: processes\[1\]\.lwps\[0\]\.tid: thread \d+ appears twice$/,
    );

    d = clone();
    (procs(d)[2] as Mutable).pid = (procs(d)[0] as Mutable).pid as number;
    expect(refused(d)).toMatch(/processes\[2\]\.pid: pid \d+ appears twice/);

    d = clone();
    const entries = ((procs(d)[0] as Mutable).vmspace as Mutable).entries as Mutable[];
    (entries[1] as Mutable).objectId = 77_777;
    expect(refused(d)).toMatch(
      /processes\[0\]\.vmspace\.entries\[1\]\.objectId: object 77777 is not described/,
    );

    d = clone();
    const p0 = procs(d)[0] as Mutable;
    ((p0.descriptors as Mutable[])[0] as Mutable).fd = 5000;
    expect(refused(d)).toMatch(/processes\[0\]\.descriptors\[0\]\.fd: expected an integer in 0\.\.1023/);
    const ext = (p0.extensions as Mutable).hostKernel as Mutable;
    ((ext.fdFiles as MutableValue[][])[0] as number[])[0] = 1 << 30;
    expect(refused(d)).toMatch(/fdFiles\[0\]: fd 1073741824 is not below 1024/);

    d = clone();
    (d.kernel as Mutable).cpus = 1_000_000;
    expect(refused(d)).toMatch(/kernel\.cpus: expected an integer in 1\.\.64/);

    d = clone();
    ((d.objects as Mutable[])[0] as Mutable).sizePages = 2 ** 40;
    expect(refused(d)).toMatch(/objects\[0\]\.sizePages/);

    d = clone();
    (d.kernel as Mutable).lwpOrder = Array.from({ length: 100_000 }, (_, i) => i + 1);
    expect(refused(d)).toMatch(/kernel\.lwpOrder\[\d+\]: thread \d+ is not described/);

    expect(refused("nope" as unknown as Mutable)).toMatch(/description: expected a map/);
  });

  it("refuses before building: no page is adopted for a description with a bad last process", () => {
    const d = clone();
    const last = (d.processes as Mutable[]).at(-1) as Mutable;
    last.comm = 42;
    let adopted = 0;
    expect(() =>
      rebuildKernel(d as unknown as CborMap, {
        ...OPTIONS,
        adoptPage: () => {
          adopted += 1;
        },
      }),
    ).toThrow(/processes\[\d+\]\.comm: expected a string/);
    expect(adopted).toBe(0);
  });
});
