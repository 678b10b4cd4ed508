import { describe, expect, it } from "vitest";
import { Access, Stop } from "../cpu/cpu-types.ts";
import { Hart } from "../cpu/hart.ts";
import * as A from "../cpu/test-asm.ts";
import { ZERO_PAGE } from "./vm-object.ts";
import { VmObjectIds, VmSpace } from "./vm-space.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "./vm-types.ts";

const CODE = 0x10000;
const DATA = 0x20000;

function space(): VmSpace {
  const vm = new VmSpace(new VmObjectIds());
  vm.map({ addr: CODE, len: 4 * 4096, prot: PROT_READ | PROT_WRITE | PROT_EXEC, flags: 0, fixed: true });
  vm.map({ addr: DATA, len: 4 * 4096, prot: PROT_READ | PROT_WRITE, flags: 0, fixed: true });
  return vm;
}

/** Run `words` on `hart` up to their EBREAK, from a fresh code page (the n-th of CODE). */
function runOn(vm: VmSpace, hart: Hart, n: number, words: number[]): void {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => {
    view.setUint32(4 * i, w >>> 0, true);
  });
  expect(vm.copyout(CODE + 4096 * n, bytes)).toBe(0);
  hart.pc = CODE + 4096 * n;
  expect(hart.run(1000)).toBe(Stop.Ebreak);
}

describe("VmObject generation on first touch", () => {
  it("stays put when an anonymous page is first touched by a write", () => {
    const vm = space();
    const gen = vm.generation;
    const page = vm.translate(DATA, Access.Write);
    expect(page).toBeInstanceOf(Uint8Array);
    expect(page).not.toBe(ZERO_PAGE);
    expect(vm.generation).toBe(gen);
  });

  it("moves when a page handed out as the zero page is materialized, once", () => {
    const vm = space();
    expect(vm.translate(DATA + 4096, Access.Read)).toBe(ZERO_PAGE);
    const gen = vm.generation;
    vm.translate(DATA + 4096, Access.Write);
    expect(vm.generation).not.toBe(gen);
    const gen2 = vm.generation;
    vm.translate(DATA + 8192, Access.Write); // never read: no bump
    vm.translate(DATA + 4096, Access.Write); // already present: no bump
    expect(vm.generation).toBe(gen2);
  });

  it("keeps harts that share the space coherent either way", () => {
    const vm = space();
    const reader = new Hart(vm);
    const writer = new Hart(vm);
    for (const hart of [reader, writer]) {
      hart.x[8] = DATA;
      hart.x[9] = DATA + 12288;
    }
    // The reader caches the zero page for DATA.
    runOn(vm, reader, 0, [A.lw(1, 8, 0), A.ebreak()]);
    expect(reader.x[1]).toBe(0);
    // The writer first-touches DATA (handed out before: bump) and DATA + 12288 (never: no bump).
    writer.x[10] = 77;
    writer.x[11] = 88;
    runOn(vm, writer, 1, [A.sw(10, 8, 0), A.sw(11, 9, 0), A.ebreak()]);
    runOn(vm, reader, 2, [A.lw(1, 8, 0), A.lw(2, 9, 0), A.ebreak()]);
    expect([reader.x[1], reader.x[2]]).toEqual([77, 88]);
  });
});
