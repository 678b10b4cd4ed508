import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pageBytes, sampleDraft, samplePages } from "../__fixtures__/sample-image.ts";
import { createImageStore } from "../store/image-store.ts";
import { createMemoryStore } from "../store/memory-store.ts";

/**
 * An independent reader written only from FORMAT.md: CBOR decoded by hand (no cbor-x), the
 * envelope, digest, body fields and the pack layout. It also checks that what vkc writes is the
 * deterministic encoding FORMAT.md §1 promises (shortest heads, sorted keys).
 */
type Value = number | bigint | string | Uint8Array | boolean | null | Value[] | { [key: string]: Value };

function decodeCbor(bytes: Uint8Array): Value {
  let pos = 0;
  const head = (): { major: number; arg: bigint } => {
    const first = bytes[pos++]!;
    const major = first >> 5;
    const info = first & 31;
    if (info < 24) return { major, arg: BigInt(info) };
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (size === undefined) throw new Error(`unsupported additional info ${info}`);
    let arg = 0n;
    for (let i = 0; i < size; i++) arg = (arg << 8n) | BigInt(bytes[pos++]!);
    // deterministic encoding: the head must be the shortest one
    const min = size === 1 ? 24n : size === 2 ? 256n : size === 4 ? 65536n : 4294967296n;
    if (major !== 7 && arg < min) throw new Error(`non-shortest head at ${pos}`);
    return { major, arg };
  };
  const item = (): Value => {
    const { major, arg } = head();
    const n = Number(arg);
    switch (major) {
      case 0:
        return arg > 0xffffffffn ? arg : n;
      case 1:
        return -1 - n;
      case 2:
        pos += n;
        return bytes.slice(pos - n, pos);
      case 3:
        pos += n;
        return new TextDecoder().decode(bytes.subarray(pos - n, pos));
      case 4:
        return Array.from({ length: n }, () => item());
      case 5: {
        const out: { [key: string]: Value } = {};
        let previous: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = pos;
          const key = item();
          const encoded = bytes.subarray(keyStart, pos);
          if (typeof key !== "string") throw new Error("non-text key");
          if (previous !== undefined && Buffer.compare(Buffer.from(previous), Buffer.from(encoded)) >= 0) {
            throw new Error(`map keys out of canonical order at ${JSON.stringify(key)}`);
          }
          previous = encoded;
          out[key] = item();
        }
        return out;
      }
      case 7:
        if (n === 20) return false;
        if (n === 21) return true;
        if (n === 22) return null;
        throw new Error(`simple value ${n}`);
      default:
        throw new Error(`major type ${major} is outside the format`);
    }
  };
  const value = item();
  if (pos !== bytes.length) throw new Error("trailing bytes");
  return value;
}

const map = (v: Value | undefined): { [key: string]: Value } => v as { [key: string]: Value };
const arr = (v: Value | undefined): Value[] => v as Value[];
const hex = (v: Value | undefined): string => Buffer.from(v as Uint8Array).toString("hex");
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("FORMAT.md, read without vkc's decoder", () => {
  it("reads a manifest and a page that vkc wrote", async () => {
    const blobs = createMemoryStore();
    const store = createImageStore(blobs);
    const { id } = await store.writeImage(sampleDraft(), samplePages());

    // §2 refs and §3 envelope
    const refText = new TextDecoder().decode((await blobs.get("refs/latest"))!);
    expect(refText).toBe(`${id}\n`);
    const envelope = map(decodeCbor((await blobs.get(`manifests/${id}`))!));
    expect(Object.keys(envelope)).toEqual(["digest", "format", "version", "manifest"]);
    expect(envelope.format).toBe("vkc-image");
    expect(envelope.version).toEqual({ major: 1, minor: 3 });
    const bodyBytes = envelope.manifest as Uint8Array;
    expect(sha(bodyBytes)).toBe(hex(envelope.digest));
    expect(hex(envelope.digest)).toBe(id);

    // §4 body
    const body = map(decodeCbor(bodyBytes));
    expect(body.kind).toBe("process");
    expect(body.clock).toEqual({ ns: 987_654_321, instructions: 123_456_789_012n });
    const proc = map(arr(body.processes)[0]);
    expect(proc.comm).toBe("hello");
    expect(proc.argv).toEqual(["/bin/hello", "world"]);
    const lwp0 = map(arr(proc.lwps)[0]);
    expect(arr(lwp0.regs)).toHaveLength(33);
    expect(arr(lwp0.regs)[32]).toBe(0x10000); // pc
    expect(arr(lwp0.regs)[4]).toBe(0x7fff0000 + 100); // tp
    const lwp1 = map(arr(proc.lwps)[1]);
    expect(lwp1.state).toEqual({ addr: 0x20000, kind: "sleeping", deadlineNs: 5000 });
    const fds = arr(proc.descriptors).map(map);
    expect(fds.map((d) => [d.fd, d.kind])).toEqual([
      [0, "tty"],
      [3, "pipe"],
      [4, "file"],
    ]);
    expect(fds[2]!.offset).toBe(2n ** 40n);
    const entries = arr(map(proc.vmspace).entries).map(map);
    expect(entries[1]).toMatchObject({ start: 0x20000, type: "normal", objectId: 2, offset: 0, flags: 5 });

    // §4.6 page map and §5 pack: read heap page 5 by hand with one ranged read
    const heap = arr(body.objects)
      .map(map)
      .find((o) => o.id === 2)!;
    const pages = map(heap.pages);
    // 1.3: the indexes are one byte string, 4 bytes (u32 little-endian) per page
    const indexBytes = pages.indexes as Uint8Array;
    expect(indexBytes).toBeInstanceOf(Uint8Array);
    const indexView = new DataView(indexBytes.buffer, indexBytes.byteOffset, indexBytes.length);
    const indexes = Array.from({ length: indexBytes.length / 4 }, (_, k) => indexView.getUint32(k * 4, true));
    const hashes = pages.hashes as Uint8Array;
    expect(hashes.length).toBe(indexes.length * 32);
    const k = indexes.indexOf(5);
    const pageHash = Buffer.from(hashes.subarray(k * 32, k * 32 + 32)).toString("hex");
    const packs = arr(body.packs).map(hex);
    let found: Uint8Array | undefined;
    for (const pack of packs) {
      const prefix = (await blobs.getRange(`packs/${pack}`, 0, 8))!;
      expect(new TextDecoder().decode(prefix.subarray(0, 4))).toBe("VKCP");
      const h = new DataView(prefix.buffer, prefix.byteOffset).getUint32(4, false);
      const header = map(decodeCbor((await blobs.getRange(`packs/${pack}`, 8, h))!));
      expect(header.format).toBe("vkc-pack");
      const entry = arr(header.entries)
        .map(arr)
        .find((e) => hex(e[0]) === pageHash);
      if (entry === undefined) continue;
      found = await blobs.getRange(`packs/${pack}`, 8 + h + (entry[1] as number), entry[2] as number);
      // a 1.1 pack: its prefix and header hash to its key, and each entry names its payload's hash
      expect(map(header.version)).toEqual({ major: 1, minor: 1 });
      expect(sha((await blobs.getRange(`packs/${pack}`, 0, 8 + h))!)).toBe(pack);
    }
    expect(found).toBeDefined();
    expect(sha(found!)).toBe(pageHash);
    expect(Buffer.from(found!).equals(Buffer.from(pageBytes(2, 5)))).toBe(true);
    // page 3 is zero: not in the map
    expect(indexes.includes(3)).toBe(false);
  });
});
