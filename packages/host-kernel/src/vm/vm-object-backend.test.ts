import { describe, expect, it } from "vitest";
import { VmObject, type VmPageBackend } from "./vm-object.ts";
import { VmObjectIds, VmSpace } from "./vm-space.ts";
import { PROT_READ, PROT_WRITE } from "./vm-types.ts";

/** A backend over a plain page array with reference counts, recording every call. */
function recordingBackend(pages = 16) {
  const memory = Array.from({ length: pages }, () => new Uint8Array(4096));
  const refs = new Array<number>(pages).fill(0);
  const log: string[] = [];
  const backend: VmPageBackend = {
    alloc() {
      const phys = refs.findIndex((r, i) => i > 0 && r === 0);
      refs[phys] = 1;
      memory[phys]?.fill(0xee); // stale bytes: the object must not rely on them being zero
      (memory[phys] as Uint8Array).fill(0);
      log.push(`alloc ${phys}`);
      return { page: memory[phys] as Uint8Array, phys };
    },
    ref(phys) {
      refs[phys] = (refs[phys] ?? 0) + 1;
      log.push(`ref ${phys}`);
    },
    release(phys) {
      refs[phys] = (refs[phys] ?? 0) - 1;
      log.push(`release ${phys}`);
    },
    written(phys) {
      log.push(`written ${phys}`);
    },
  };
  return { backend, memory, refs, log };
}

describe("VmObject page backend (H1)", () => {
  it("pages are the backend's arrays: a read materializes a real zeroed page, never ZERO_PAGE", () => {
    const { backend, memory } = recordingBackend();
    const o = new VmObject(1, "anon", 4);
    o.backend = backend;
    const page = o.pageForRead(2);
    expect(page).toBe(memory[1]);
    expect(o.phys.get(2)).toBe(1);
    expect(page.every((b) => b === 0)).toBe(true);
  });

  it("every write path reports the physical page written", () => {
    const { backend, log } = recordingBackend();
    const o = new VmObject(1, "anon", 4);
    o.backend = backend;
    o.pageForWrite(0)[5] = 7;
    o.pageForWrite(0);
    expect(log).toEqual(["alloc 1", "written 1", "written 1"]);
  });

  it("copy-on-write after copy: shared pages are counted, a write takes a new page and releases the old", () => {
    const { backend, refs, memory } = recordingBackend();
    const parent = new VmObject(1, "anon", 4);
    parent.backend = backend;
    parent.pageForWrite(0)[0] = 42;
    const child = parent.copy(2);
    expect(child.backend).toBe(backend);
    expect(child.phys.get(0)).toBe(1);
    expect(refs[1]).toBe(2);
    const mine = child.pageForWrite(0);
    expect(mine).not.toBe(memory[1]);
    expect(mine[0]).toBe(42);
    expect(child.phys.get(0)).toBe(2);
    expect(refs[1]).toBe(1);
    expect(parent.pageForRead(0)[0]).toBe(42);
  });

  it("freed pages go back to the backend", () => {
    const { backend, refs } = recordingBackend();
    const o = new VmObject(1, "anon", 4);
    o.backend = backend;
    o.pageForWrite(0);
    o.pageForWrite(3);
    o.freePages(0, 4);
    expect(refs.slice(1, 3)).toEqual([0, 0]);
    expect(o.phys.size).toBe(0);
  });

  it("objects made through the factory (map, brk, fork, file mappings) take its backend", () => {
    const { backend } = recordingBackend(64);
    const ids = new VmObjectIds();
    ids.backend = backend;
    const vm = new VmSpace(ids);
    const at = vm.map({ addr: 0x10000, len: 0x2000, prot: PROT_READ | PROT_WRITE, flags: 0, fixed: true });
    expect(vm.lookup(at)?.object.backend).toBe(backend);
    const file = new VmObject(ids.take(), "file", 1, {
      bytes: new Uint8Array([1, 2, 3]),
      path: "/f",
      offset: 0,
    });
    vm.map({ addr: 0x20000, len: 0x1000, prot: PROT_READ, flags: 0, fixed: true, object: file });
    expect(file.backend).toBe(backend);
    expect(vm.copyin(0x20000, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(file.phys.has(0)).toBe(true);
    const child = vm.fork();
    expect(child.lookup(at)?.object.backend).toBe(backend);
  });

  it("without a backend nothing changes: untouched pages read as ZERO_PAGE and no phys is kept", () => {
    const o = new VmObject(1, "anon", 4);
    expect(o.pageForRead(0).length).toBe(4096);
    expect(o.pages.size).toBe(0);
    o.pageForWrite(1);
    expect(o.phys.size).toBe(0);
  });
});
