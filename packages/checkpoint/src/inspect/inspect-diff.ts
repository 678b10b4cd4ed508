import type { DescriptorImage } from "../model/model-descriptor.ts";
import type { LwpImage } from "../model/model-lwp.ts";
import type { Manifest } from "../model/model-manifest.ts";
import type { ProcessImage } from "../model/model-process.ts";
import type { MapEntryImage, PageMap } from "../model/model-vm.ts";
import { REG_NAMES } from "./inspect-summary.ts";

export interface RegisterChange {
  readonly reg: string;
  readonly from: number;
  readonly to: number;
}

export interface ThreadDiff {
  readonly tid: number;
  readonly registers: readonly RegisterChange[];
  /** Other changed fields: `sigmask`, `pending`, `altstack`, `state`, `native`. */
  readonly fields: readonly string[];
  /** When `state` changed: its kind before and after (`runnable`, `sleeping`, `syscall 63`, …). */
  readonly state?: { readonly from: string; readonly to: string };
}

export interface RangeRef {
  readonly start: number;
  readonly end: number;
}

export interface ProcessDiff {
  readonly pid: number;
  /** Changed top-level fields (`comm`, `argv`, `sigacts`, `brk`, …). */
  readonly fields: readonly string[];
  readonly threads: {
    readonly added: readonly number[];
    readonly removed: readonly number[];
    readonly changed: readonly ThreadDiff[];
  };
  readonly entries: {
    readonly added: readonly RangeRef[];
    readonly removed: readonly RangeRef[];
    readonly changed: readonly (RangeRef & { readonly fields: readonly string[] })[];
  };
  readonly descriptors: {
    readonly added: readonly number[];
    readonly removed: readonly number[];
    readonly changed: readonly number[];
  };
}

export interface ObjectPagesDiff {
  readonly id: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  /** Present only in one image. */
  readonly status: "added" | "removed" | "both";
}

export interface ImageDiff {
  readonly from?: string;
  readonly to?: string;
  readonly instructions: { readonly from: number; readonly to: number };
  readonly processes: {
    readonly added: readonly number[];
    readonly removed: readonly number[];
    readonly changed: readonly ProcessDiff[];
  };
  readonly objects: readonly ObjectPagesDiff[];
  readonly pages: { readonly added: number; readonly changed: number; readonly removed: number };
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return (
      ka.length === kb.length &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return false;
}

function changedFields<T extends object>(a: T, b: T, keys: readonly (keyof T)[]): string[] {
  return keys.filter((k) => !same(a[k], b[k])).map(String);
}

function byKey<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T> {
  return new Map(items.map((t) => [key(t), t]));
}

function diffThread(a: LwpImage, b: LwpImage): ThreadDiff | undefined {
  const registers: RegisterChange[] = [];
  a.regs.forEach((r, i) => {
    const to = b.regs[i] ?? 0;
    if (r !== to) registers.push({ reg: REG_NAMES[i] ?? `r${i}`, from: r, to });
  });
  const fields = changedFields(a, b, ["sigmask", "pending", "altstack", "state", "native"]);
  if (registers.length === 0 && fields.length === 0) return undefined;
  return fields.includes("state")
    ? { tid: a.tid, registers, fields, state: { from: stateName(a.state), to: stateName(b.state) } }
    : { tid: a.tid, registers, fields };
}

/** A thread state in a few words: its kind, and the call number of a blocked syscall. */
function stateName(s: LwpImage["state"]): string {
  return s.kind === "syscall" ? `syscall ${s.number}` : s.kind;
}

function entryKey(e: MapEntryImage): string {
  return `${e.start}:${e.end}`;
}

function diffProcess(a: ProcessImage, b: ProcessImage): ProcessDiff | undefined {
  const fields = changedFields(a, b, [
    "ppid",
    "pgid",
    "sid",
    "comm",
    "argv",
    "envp",
    "cwd",
    "cred",
    "flags",
    "exitStatus",
    "sigacts",
    "itimers",
  ]);
  if (!same(a.vmspace.brk, b.vmspace.brk)) fields.push("brk");
  if (a.vmspace.mmapBase !== b.vmspace.mmapBase) fields.push("mmapBase");

  const ta = byKey(a.lwps, (l) => l.tid);
  const tb = byKey(b.lwps, (l) => l.tid);
  const threads = {
    added: [...tb.keys()].filter((t) => !ta.has(t)),
    removed: [...ta.keys()].filter((t) => !tb.has(t)),
    changed: [...ta.values()].flatMap((l) => {
      const other = tb.get(l.tid);
      const d = other === undefined ? undefined : diffThread(l, other);
      return d === undefined ? [] : [d];
    }),
  };

  const ea = byKey(a.vmspace.entries, entryKey);
  const eb = byKey(b.vmspace.entries, entryKey);
  const range = (e: MapEntryImage): RangeRef => ({ start: e.start, end: e.end });
  const entries = {
    added: [...eb.values()].filter((e) => !ea.has(entryKey(e))).map(range),
    removed: [...ea.values()].filter((e) => !eb.has(entryKey(e))).map(range),
    changed: [...ea.values()].flatMap((e) => {
      const other = eb.get(entryKey(e));
      if (other === undefined) return [];
      const f = changedFields(e, other, [
        "prot",
        "maxprot",
        "flags",
        "type",
        "objectId",
        "offset",
        "masterPde",
      ]);
      return f.length === 0 ? [] : [{ ...range(e), fields: f }];
    }),
  };

  const da = byKey<DescriptorImage, number>(a.descriptors, (d) => d.fd);
  const db = byKey<DescriptorImage, number>(b.descriptors, (d) => d.fd);
  const descriptors = {
    added: [...db.keys()].filter((fd) => !da.has(fd)),
    removed: [...da.keys()].filter((fd) => !db.has(fd)),
    changed: [...da.entries()].filter(([fd, d]) => db.has(fd) && !same(d, db.get(fd))).map(([fd]) => fd),
  };

  const nothing =
    fields.length === 0 &&
    threads.added.length + threads.removed.length + threads.changed.length === 0 &&
    entries.added.length + entries.removed.length + entries.changed.length === 0 &&
    descriptors.added.length + descriptors.removed.length + descriptors.changed.length === 0;
  return nothing ? undefined : { pid: a.pid, fields, threads, entries, descriptors };
}

function pageEntries(map: PageMap): Map<number, string> {
  const out = new Map<number, string>();
  map.indexes.forEach((index, k) => {
    out.set(index, Buffer.from(map.hashes.subarray(k * 32, k * 32 + 32)).toString("hex"));
  });
  return out;
}

/** What changed from image `a` to image `b`: processes, threads and registers, map entries, descriptors, pages. */
export function diffImages(a: Manifest, b: Manifest): ImageDiff {
  const pa = byKey(a.processes, (p) => p.pid);
  const pb = byKey(b.processes, (p) => p.pid);
  const oa = byKey(a.objects, (o) => o.id);
  const ob = byKey(b.objects, (o) => o.id);
  const objects: ObjectPagesDiff[] = [];
  for (const id of [...new Set([...oa.keys(), ...ob.keys()])].sort((x, y) => x - y)) {
    const ma = oa.has(id) ? pageEntries(oa.get(id)!.pages) : new Map<number, string>();
    const mb = ob.has(id) ? pageEntries(ob.get(id)!.pages) : new Map<number, string>();
    let added = 0;
    let changed = 0;
    let removed = 0;
    for (const [index, hash] of mb) {
      const before = ma.get(index);
      if (before === undefined) added++;
      else if (before !== hash) changed++;
    }
    for (const index of ma.keys()) if (!mb.has(index)) removed++;
    const status = !oa.has(id) ? "added" : !ob.has(id) ? "removed" : "both";
    if (added + changed + removed > 0 || status !== "both")
      objects.push({ id, added, changed, removed, status });
  }
  return {
    ...(a.integrity !== undefined ? { from: a.integrity.digest } : {}),
    ...(b.integrity !== undefined ? { to: b.integrity.digest } : {}),
    instructions: { from: a.clock.instructions, to: b.clock.instructions },
    processes: {
      added: [...pb.keys()].filter((p) => !pa.has(p)),
      removed: [...pa.keys()].filter((p) => !pb.has(p)),
      changed: [...pa.values()].flatMap((p) => {
        const other = pb.get(p.pid);
        const d = other === undefined ? undefined : diffProcess(p, other);
        return d === undefined ? [] : [d];
      }),
    },
    objects,
    pages: objects.reduce(
      (t, o) => ({
        added: t.added + o.added,
        changed: t.changed + o.changed,
        removed: t.removed + o.removed,
      }),
      { added: 0, changed: 0, removed: 0 },
    ),
  };
}
