import type { VmSpace } from "@vkc/host-kernel";
import {
  VH_RX_HEAD,
  VH_RX_TAIL,
  VH_TX_HEAD,
  VH_TX_TAIL,
  VKE_RING_SLOTS,
  vkeHeader,
  vkeSlot,
} from "./vke-layout.ts";

/** Which ring of a vke: rx (host tap → inner kernel) or tx (inner kernel → host tap). */
export type VkeRingName = "rx" | "tx";

const words = (ring: VkeRingName): [number, number] =>
  ring === "rx" ? [VH_RX_HEAD, VH_RX_TAIL] : [VH_TX_HEAD, VH_TX_TAIL];

/**
 * A ring of frames in vmspace0 (DESIGN.md §4.1): `VKE_RING_SLOTS` slots of u32 length + frame,
 * a head (consumer) and a tail (producer) word, both free-running. One producer and one consumer
 * each touch it only inside a single native step, so no lock is needed.
 */
export class VkeRing {
  readonly #head: number;
  readonly #tail: number;

  constructor(
    readonly vm: VmSpace,
    readonly k: number,
    readonly ring: VkeRingName,
  ) {
    const [h, t] = words(ring);
    this.#head = vkeHeader(k) + h;
    this.#tail = vkeHeader(k) + t;
  }

  /** Address of the head word (the producer sleeps on it while the ring is full). */
  get headAddr(): number {
    return this.#head;
  }

  /** Address of the tail word (the consumer sleeps on it while the ring is empty). */
  get tailAddr(): number {
    return this.#tail;
  }

  get head(): number {
    return this.vm.readU32(this.#head) ?? 0;
  }

  get tail(): number {
    return this.vm.readU32(this.#tail) ?? 0;
  }

  /** Frames queued. */
  count(): number {
    return (this.tail - this.head) >>> 0;
  }

  full(): boolean {
    return this.count() >= VKE_RING_SLOTS;
  }

  /** Append a frame; false when the ring is full. */
  push(frame: Uint8Array): boolean {
    if (this.full()) return false;
    const tail = this.tail;
    const slot = vkeSlot(this.k, this.ring, tail);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, frame.length, true);
    if (this.vm.copyout(slot, len) !== 0 || this.vm.copyout(slot + 4, frame) !== 0) return false;
    this.vm.writeU32(this.#tail, (tail + 1) >>> 0);
    return true;
  }

  /** The oldest frame (a copy), or null when empty. */
  peek(): Uint8Array | null {
    if (this.count() === 0) return null;
    const slot = vkeSlot(this.k, this.ring, this.head);
    const len = this.vm.readU32(slot) ?? 0;
    const bytes = this.vm.copyin(slot + 4, len);
    return typeof bytes === "number" ? new Uint8Array(0) : bytes.slice();
  }

  /** Address and length of the oldest frame in its slot (for a host write straight from it). */
  headSlot(): { addr: number; len: number } | null {
    if (this.count() === 0) return null;
    const slot = vkeSlot(this.k, this.ring, this.head);
    return { addr: slot + 4, len: this.vm.readU32(slot) ?? 0 };
  }

  /** Drop the oldest frame. */
  pop(): void {
    if (this.count() > 0) this.vm.writeU32(this.#head, (this.head + 1) >>> 0);
  }

  /** Every queued frame, oldest first (copies; the ring is unchanged). */
  frames(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.head; i !== this.tail; i = (i + 1) >>> 0) {
      const slot = vkeSlot(this.k, this.ring, i);
      const bytes = this.vm.copyin(slot + 4, this.vm.readU32(slot) ?? 0);
      if (typeof bytes !== "number") out.push(bytes.slice());
    }
    return out;
  }
}
