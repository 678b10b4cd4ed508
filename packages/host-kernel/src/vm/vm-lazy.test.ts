import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import { type LazyPages, settleLazy } from "./vm-lazy.ts";
import { VmObject, ZERO_PAGE } from "./vm-object.ts";

/** Lazy pages from a map of index → fill byte, counting reads. */
class FakeLazy implements LazyPages {
  reads: number[] = [];
  constructor(readonly waiting: Map<number, number>) {}
  has(index: number): boolean {
    return this.waiting.has(index);
  }
  take(index: number): Uint8Array {
    const fill = this.waiting.get(index) as number;
    this.waiting.delete(index);
    this.reads.push(index);
    return new Uint8Array(PAGE_SIZE).fill(fill);
  }
  drop(from: number, to: number): void {
    for (const i of this.waiting.keys()) if (i >= from && i < to) this.waiting.delete(i);
  }
  pending(): number[] {
    return [...this.waiting.keys()].sort((a, b) => a - b);
  }
  fork(): LazyPages {
    return new FakeLazy(new Map(this.waiting));
  }
}

function lazyObject(pages: Record<number, number>): { object: VmObject; lazy: FakeLazy } {
  const object = new VmObject(7, "anon", 16);
  const lazy = new FakeLazy(new Map(Object.entries(pages).map(([i, f]) => [Number(i), f])));
  object.lazy = lazy;
  return { object, lazy };
}

describe("VmObject with lazy pages", () => {
  it("loads a page on its first read, once, and leaves it clean", () => {
    const { object, lazy } = lazyObject({ 2: 0xaa });
    expect(object.pageForRead(2)[0]).toBe(0xaa);
    expect(object.pageForRead(2)[100]).toBe(0xaa);
    expect(lazy.reads).toEqual([2]);
    expect(object.dirty.size).toBe(0);
    expect(object.pageForRead(3)).toBe(ZERO_PAGE); // not in the image: zero, as before
  });

  it("loads a page before its first write, which dirties it", () => {
    const { object, lazy } = lazyObject({ 1: 0x11 });
    const page = object.pageForWrite(1);
    expect(page[5]).toBe(0x11);
    expect(lazy.reads).toEqual([1]);
    expect([...object.dirty]).toEqual([1]);
  });

  it("never brings back a freed page", () => {
    const { object, lazy } = lazyObject({ 1: 1, 2: 2, 5: 5 });
    object.freePages(0, 3);
    expect(object.pageForRead(1)).toBe(ZERO_PAGE);
    expect(lazy.pending()).toEqual([5]);
  });

  it("gives a copy-on-write twin its own pending pages", () => {
    const { object } = lazyObject({ 1: 1, 2: 2 });
    object.pageForRead(1);
    const twin = object.copy(8);
    expect(twin.lazy?.pending()).toEqual([2]);
    expect(twin.pageForRead(2)[0]).toBe(2);
    expect(object.lazy?.pending()).toEqual([2]);
    twin.pageForWrite(1)[0] = 9;
    expect(object.pageForRead(1)[0]).toBe(1);
  });

  it("settleLazy loads everything still pending", () => {
    const { object, lazy } = lazyObject({ 0: 3, 9: 4 });
    settleLazy(object);
    expect(lazy.pending()).toEqual([]);
    expect([...object.pages.keys()].sort()).toEqual([0, 9]);
    expect(object.dirty.size).toBe(0);
  });
});
