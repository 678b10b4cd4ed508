import { PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "./vm-space.ts";
import { USER_END, USER_MIN } from "./vm-types.ts";
import { GUEST_FRAME_SIZE } from "./vmspace-guest-frame.ts";

/**
 * Test helpers for guest vmspaces: a memimage-like shared object in the caller at MEMIMG, Sv32
 * tables built in it by `GuestTables`, and a guest program loaded into its pages.
 *
 * Physical layout (byte offsets in memimage): the guest frame at 0, the root table at 0x1000,
 * level-0 tables from 0x2000, guest code at CODE_PHYS, guest data at DATA_PHYS, a page the guest
 * tables never map at SECRET_PHYS.
 */
export const MEMIMG = 0x2000_0000;
export const MEMIMG_PAGES = 32;
export const FRAME_PHYS = 0;
export const ROOT_PHYS = 0x1000;
export const CODE_PHYS = 0x8000;
export const DATA_PHYS = 0x9000;
export const SECRET_PHYS = 0xa000;
/** Guest virtual addresses. */
export const GUEST_CODE = 0x0040_0000;
export const GUEST_DATA = 0x0040_1000;
/** The guest's VPAGETABLE window: all of the user range. */
export const WINDOW = USER_MIN;
export const WINDOW_LEN = USER_END - USER_MIN;
export const GUEST_ID = 0xc0de_0001;

export const RWXU = PTE_R | PTE_W | PTE_X | PTE_U;
export { PTE_R, PTE_U, PTE_V, PTE_W, PTE_X };

/** Writes bytes at a physical (memimage) address. */
export type PhysWriter = (phys: number, bytes: Uint8Array) => void;

export function u32s(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((w, i) => {
    v.setUint32(i * 4, w >>> 0, true);
  });
  return b;
}

/** The master PDE for a root table at physical `root`. */
export const masterPde = (root: number = ROOT_PHYS): number => (((root >>> 12) << 10) | PTE_V) >>> 0;

/** Sv32 tables rooted at ROOT_PHYS, level-0 tables allocated from 0x2000 up. */
export class GuestTables {
  private readonly level0 = new Map<number, number>();
  private nextTable = 0x2000;

  constructor(private readonly write: PhysWriter) {}

  /** Map the 4 KiB page at `va` to physical page `phys` with leaf `flags` (V is added). */
  map(va: number, phys: number, flags: number): void {
    const vpn1 = va >>> 22;
    let table = this.level0.get(vpn1);
    if (table === undefined) {
      table = this.nextTable;
      this.nextTable += 0x1000;
      this.level0.set(vpn1, table);
      this.write(ROOT_PHYS + vpn1 * 4, u32s(((table >>> 12) << 10) | PTE_V));
    }
    const vpn0 = (va >>> 12) & 0x3ff;
    this.write(table + vpn0 * 4, u32s(((phys >>> 12) << 10) | flags | PTE_V));
  }

  /** Remove the mapping of `va` (its PTE becomes 0). */
  unmap(va: number): void {
    const table = this.level0.get(va >>> 22);
    if (table !== undefined) this.write(table + ((va >>> 12) & 0x3ff) * 4, u32s(0));
  }
}

/** A guest frame with `pc` and the given registers (all others 0). */
export function guestFrame(pc: number, regs: Readonly<Record<number, number>> = {}): Uint8Array {
  const b = new Uint8Array(GUEST_FRAME_SIZE);
  const v = new DataView(b.buffer);
  for (const [i, value] of Object.entries(regs)) v.setUint32(Number(i) * 4, value >>> 0, true);
  v.setUint32(128, pc >>> 0, true);
  return b;
}

/** Read word `index` of a frame. */
export function frameWord(frame: Uint8Array, index: number): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(index * 4, true);
}
