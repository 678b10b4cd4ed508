import { describe, expect, it } from "vitest";
import { lwp, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import type { ManifestDraft } from "../model/model-manifest.ts";
import { createImageStore } from "../store/image-store.ts";
import { createMemoryStore } from "../store/memory-store.ts";
import { diffImages } from "./inspect-diff.ts";
import { renderDiff, renderSummary } from "./inspect-render.ts";
import { summarizeImage } from "./inspect-summary.ts";

async function parentAndChild() {
  const store = createImageStore(createMemoryStore());
  const parent = await store.writeImage(sampleDraft(), samplePages());
  const base = sampleDraft({ parent: parent.id });
  const proc = base.processes[0]!;
  const first = proc.lwps[0]!;
  const regs = [...first.regs];
  regs[32] = 0x10040; // pc
  regs[10] = 7; // a0
  const child: ManifestDraft = {
    ...base,
    clock: { instructions: base.clock.instructions + 1000, ns: base.clock.ns },
    processes: [
      {
        ...proc,
        lwps: [{ ...first, regs, sigmask: [1 << 1, 0] }, proc.lwps[1]!, lwp(102)],
        vmspace: {
          ...proc.vmspace,
          entries: [{ ...proc.vmspace.entries[0]!, prot: 7 }, proc.vmspace.entries[1]!],
        },
        descriptors: [
          ...proc.descriptors,
          { fd: 9, cloexec: true, kind: "file", path: "/log", offset: 0, flags: 0, mode: 0 },
        ],
      },
    ],
  };
  const result = await store.writeImage(
    child,
    samplePages(64, (i) => (i < 2 ? 2 : 1)),
  );
  return { parent: parent.manifest, child: await store.readManifest(result.id) };
}

describe("inspect", () => {
  it("names host-kernel's entry bit and shows a thread's state change with its values", async () => {
    const { parent, child } = await parentAndChild();
    const p = child.processes[0]!;
    const later = {
      ...child,
      processes: [
        {
          ...p,
          lwps: p.lwps.map((l) => (l.tid === 101 ? { ...l, state: { kind: "runnable" as const } } : l)),
          vmspace: {
            ...p.vmspace,
            entries: p.vmspace.entries.map((e, i) => (i === 0 ? { ...e, flags: e.flags | 0x100 } : e)),
          },
        },
      ],
    };
    const text = renderSummary(summarizeImage(later, { parent }));
    expect(text).toMatch(/^\d+ pages: \d+ resident/m);
    expect(text).toMatch(/ private,kernel-anon obj /);
    expect(renderDiff(diffImages(child, later))).toMatch(/~ thread 101: state sleeping->runnable/);
  });

  it("summarizes threads, masks and page counts per map entry", async () => {
    const { parent, child } = await parentAndChild();
    const s = summarizeImage(child, { parent });
    expect(s.id).toBe(child.integrity?.digest);
    expect(s.parent).toBe(parent.integrity?.digest);
    const p = s.processes[0]!;
    expect(p.threads.map((t) => [t.tid, t.pc, t.tp])).toEqual([
      [100, 0x10040, 0x7fff0064],
      [101, 0x10100, 0x7fff0065],
      [102, 0x10000, 0x7fff0066],
    ]);
    expect(p.threads[0]!.sigmask).toEqual([2, 0]);
    expect(p.threads[1]!.state).toBe("sleeping on 0x20000 until 5000 ns");
    expect(p.vmspace[0]).toMatchObject({
      prot: "rwx",
      flags: ["private"],
      pages: { total: 4, resident: 4, zero: 0, shared: 4, new: 0 },
    });
    expect(p.vmspace[1]!.pages).toEqual({ total: 64, resident: 48, zero: 16, shared: 46, new: 2 });
    expect(p.vmspace[1]!.flags).toEqual(["private", "cow"]);
    expect(s.totals).toMatchObject({ resident: 52, new: 2, bytes: 52 * 4096 });
    const text = renderSummary(s);
    expect(text).toContain("thread 100: pc 0x00010040");
    expect(text).toContain(
      "0x00020000-0x00060000 rw- normal private,cow obj 2+0: 64 pages: 48 resident, 16 zero, 46 shared, 2 new",
    );
    expect(text).toContain("fd 3 pipe: pipe 1 read end, 2 bytes buffered");
  });

  it("diffs threads, registers, entries, descriptors and pages", async () => {
    const { parent, child } = await parentAndChild();
    const d = diffImages(parent, child);
    expect(d.instructions.to - d.instructions.from).toBe(1000);
    const p = d.processes.changed[0]!;
    expect(p.threads.added).toEqual([102]);
    expect(p.threads.changed).toEqual([
      {
        tid: 100,
        registers: [
          { reg: "a0", from: 0xaaaa, to: 7 },
          { reg: "pc", from: 0x10000, to: 0x10040 },
        ],
        fields: ["sigmask"],
      },
    ]);
    expect(p.entries.changed).toEqual([{ start: 0x10000, end: 0x14000, fields: ["prot"] }]);
    expect(p.descriptors).toEqual({ added: [9], removed: [], changed: [] });
    expect(d.pages).toEqual({ added: 0, changed: 2, removed: 0 });
    expect(diffImages(parent, parent).processes.changed).toEqual([]);
    const text = renderDiff(d);
    expect(text).toContain("~ thread 100: a0 0x0000aaaa->0x00000007, pc 0x00010000->0x00010040, sigmask");
    expect(text).toContain("+ fd 9");
    expect(text).toContain("~ object 2: 0 added, 2 changed, 0 removed pages");
  });
});
