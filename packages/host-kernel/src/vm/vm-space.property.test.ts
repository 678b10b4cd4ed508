import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Access, Fault, PAGE_SIZE } from "../cpu/cpu-types.ts";
import { VmObjectIds, VmSpace } from "./vm-space.ts";
import { PROT_READ, PROT_WRITE } from "./vm-types.ts";

/** A model of a small address space: page number → { prot, first byte }. */
type Model = Map<number, { prot: number; byte: number }>;

const BASE = 0x10000;
const PAGES = 24;
const page = fc.integer({ min: 0, max: PAGES - 1 });
const len = fc.integer({ min: 1, max: 6 });
const prot = fc.constantFrom(0, PROT_READ, PROT_READ | PROT_WRITE);

const op = fc.oneof(
  fc.record({ kind: fc.constant("map" as const), page, len, prot }),
  fc.record({ kind: fc.constant("unmap" as const), page, len }),
  fc.record({ kind: fc.constant("protect" as const), page, len, prot }),
  fc.record({ kind: fc.constant("write" as const), page, byte: fc.integer({ min: 1, max: 255 }) }),
);

function apply(vm: VmSpace, model: Model, o: Op): void {
  const addr = BASE + o.page * PAGE_SIZE;
  const pages = (n: number) => Array.from({ length: n }, (_, i) => o.page + i).filter((p) => p < PAGES);
  switch (o.kind) {
    case "map": {
      const n = Math.min(o.len, PAGES - o.page);
      expect(vm.map({ addr, len: n * PAGE_SIZE, prot: o.prot, flags: 0, fixed: true })).toBe(addr);
      for (const p of pages(n)) model.set(p, { prot: o.prot, byte: 0 });
      break;
    }
    case "unmap": {
      const n = Math.min(o.len, PAGES - o.page);
      expect(vm.unmap(addr, n * PAGE_SIZE)).toBe(0);
      for (const p of pages(n)) model.delete(p);
      break;
    }
    case "protect": {
      const n = Math.min(o.len, PAGES - o.page);
      const all = pages(n).every((p) => model.has(p));
      const r = vm.protect(addr, n * PAGE_SIZE, o.prot);
      expect(r).toBe(all ? 0 : -12);
      if (all) for (const p of pages(n)) (model.get(p) as { prot: number }).prot = o.prot;
      break;
    }
    case "write": {
      const m = model.get(o.page);
      const r = vm.copyout(addr, new Uint8Array([o.byte]));
      const ok = m !== undefined && (m.prot & PROT_WRITE) !== 0;
      expect(r).toBe(ok ? 0 : -14);
      if (ok && m !== undefined) m.byte = o.byte;
      break;
    }
  }
}

type Op =
  | { kind: "map"; page: number; len: number; prot: number }
  | { kind: "unmap"; page: number; len: number }
  | { kind: "protect"; page: number; len: number; prot: number }
  | { kind: "write"; page: number; byte: number };

describe("VmSpace (property)", () => {
  it("agrees with a page model under random map/unmap/protect/write sequences", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const vm = new VmSpace(new VmObjectIds());
        const model: Model = new Map();
        for (const o of ops) apply(vm, model, o as Op);
        // entries stay sorted and disjoint
        for (let i = 1; i < vm.entries.length; i++) {
          expect(vm.entries[i - 1]!.end).toBeLessThanOrEqual(vm.entries[i]!.start);
        }
        for (let p = 0; p < PAGES; p++) {
          const m = model.get(p);
          const r = vm.translate(BASE + p * PAGE_SIZE, Access.Read);
          if (m === undefined) expect(r).toBe(Fault.MapError);
          else if ((m.prot & PROT_READ) === 0) expect(r).toBe(Fault.AccessError);
          else expect((r as Uint8Array)[0]).toBe(m.byte);
        }
      }),
      { numRuns: 300 },
    );
  });
});
