import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import { describe, expect, it } from "vitest";
import type { Hart } from "../cpu/hart.ts";
import { SIGCKPT, SIGCKPTEXIT, SIGUSR1, SIGUSR2, sigbit } from "../signal/signal-numbers.ts";
import { ThawExecutableMismatchError, ThawExecutableMissingError, ThawReadError } from "./ckpt-errors.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { guestElf, memoryImages, runToEnd, startGuest, text, thawGuest } from "./ckpt-test-support.ts";
import { freezeProcess } from "./freeze.ts";
import { thawProcess } from "./thaw.ts";

describe("freeze and thaw", () => {
  it("threads: run to t, freeze, thaw, run to the end == run to the end", async () => {
    const whole = startGuest("threads", [], { cpus: 2, seed: 3 });
    const a = await runToEnd(whole.kernel);
    const images = memoryImages();
    const part = startGuest("threads", [], { cpus: 2, seed: 3 });
    const stop = await part.kernel.run({ stopAt: Math.floor(a.instructions / 2) });
    expect(stop.reason).toBe("stopped");
    const w = await createStoreTarget(images).checkpoint(part.kernel, part.kernel.initPid);
    const thawed = await thawGuest(images, w.id, "threads", {}, [...part.chunks]);
    const b = await runToEnd(thawed.kernel);
    expect(text(thawed.chunks)).toBe(text(whole.chunks));
    expect(b.exitStatus).toBe(a.exitStatus);
    expect(b.instructions).toBe(a.instructions);
    expect(b.digest).toBe(a.digest);
  }, 60_000);

  it("thawed LWPs keep their TIDs, registers (tp), masks, pending signals, altstacks and sleeps", async () => {
    const images = memoryImages();
    const g = startGuest("threads", ["4", "1000"], { cpus: 3, seed: 11 });
    await g.kernel.run({ stopAt: 60_000 });
    const proc = g.kernel.procs.get(g.kernel.initPid);
    if (proc === undefined) throw new Error("no process");
    expect(proc.lwps.length).toBeGreaterThan(2);
    // Give the threads state a program would hard to reach at this instant: blocked, pending, altstacks.
    proc.lwps.forEach((l, i) => {
      l.sigmask |= sigbit(SIGUSR1) | sigbit(SIGUSR2);
      l.pending |= i % 2 === 0 ? sigbit(SIGUSR1) : sigbit(SIGUSR2);
      const sig = i % 2 === 0 ? SIGUSR1 : SIGUSR2;
      l.pendingInfo.set(sig, { signo: sig, code: -6, addr: 0, pid: 7, uid: 0 });
      l.altstack = { sp: 0x1000 * (i + 1), size: 8192, flags: 0 };
    });
    const w = await createStoreTarget(images).checkpoint(g.kernel, proc.pid);
    const { kernel } = await thawProcess(images, w.id, { files: { "/bin/threads": guestElf("threads") } });
    const back = kernel.procs.get(proc.pid);
    expect(back?.lwps.map((l) => l.tid)).toEqual(proc.lwps.map((l) => l.tid));
    for (const [i, l] of proc.lwps.entries()) {
      const t = back?.lwps[i];
      expect(t?.hart.getContext()).toEqual(l.hart.getContext());
      expect(t?.hart.x[4]).toBe(l.hart.x[4]); // tp
      expect(t?.sigmask).toBe(l.sigmask);
      expect(t?.pending).toBe(l.pending);
      expect([...(t?.pendingInfo ?? [])]).toEqual([...l.pendingInfo]);
      expect(t?.altstack).toEqual(l.altstack);
      expect([t?.state, t?.wchan, t?.deadline, t?.sleepMode, t?.cpu]).toEqual([
        l.state,
        l.wchan,
        l.deadline,
        l.sleepMode,
        l.cpu,
      ]);
      expect((t?.hart as Hart | undefined)?.instret).toBe((l.hart as Hart).instret);
    }
    expect([...kernel.sleepQueues]).toEqual([...g.kernel.sleepQueues]);
    expect(kernel.sched.cpus).toEqual(g.kernel.sched.cpus);
    expect(kernel.sched.prng.state).toBe(g.kernel.sched.prng.state);
    expect(kernel.result("stopped").digest).toBe(g.kernel.result("stopped").digest);
  }, 60_000);

  it("thaws onto another CPU count: the same output and exit status", async () => {
    const whole = startGuest("threads", ["4", "1000"], { cpus: 2, seed: 9 });
    await runToEnd(whole.kernel);
    const images = memoryImages();
    const g = startGuest("threads", ["4", "1000"], { cpus: 2, seed: 9 });
    await g.kernel.run({ stopAt: 100_000 });
    const w = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
    for (const cpus of [1, 4]) {
      const t = await thawGuest(images, w.id, "threads", { cpus }, [...g.chunks]);
      expect(t.kernel.sched.cpus.length).toBe(cpus);
      const r = await runToEnd(t.kernel);
      expect(r.exitStatus).toBe(0);
      expect(text(t.chunks)).toBe(text(whole.chunks));
    }
  }, 60_000);

  it("a second checkpoint after dirtying 1% of memory writes about 1% of the pages", async () => {
    const images = memoryImages();
    const written: number[] = [];
    const target = createStoreTarget(images, { onWritten: (w) => written.push(w.stats.bytesWritten) });
    const g = startGuest("memtouch", ["4", "1", "3"], {}, images);
    const runUntil = async (needle: string): Promise<void> => {
      while (!text(g.chunks).includes(needle)) {
        const r = await g.kernel.run({ maxInstructions: 20_000 });
        expect(r.reason).toBe("limit");
      }
    };
    await runUntil("round 1:");
    // Fill the whole 4 MiB buffer, so the first image holds every page of it.
    const proc = g.kernel.procs.get(g.kernel.initPid);
    const heap = proc?.vm.entries.find((e) => e.end - e.start >= 4 << 20);
    if (proc === undefined || heap === undefined) throw new Error("no 4 MiB mapping");
    for (let a = heap.start; a < heap.end; a += 4096) {
      const mark = new Uint8Array(4);
      new DataView(mark.buffer).setUint32(0, a, true);
      proc.vm.poke(a + 8, mark);
    }
    const first = await target.checkpoint(g.kernel, proc.pid);
    expect(first.stats.pagesWritten).toBeGreaterThan(1024);
    await runUntil("round 2:");
    const dirtied = Number(/round 2: dirtied (\d+) pages/.exec(text(g.chunks))?.[1]);
    expect(dirtied).toBeGreaterThan(0);
    expect(dirtied).toBeLessThan(30);
    const second = await target.checkpoint(g.kernel, proc.pid);
    expect(second.parent).toBe(first.id);
    // The dirtied heap pages, plus a few of stack, data and the malloc header.
    expect(second.stats.pagesWritten).toBeGreaterThanOrEqual(dirtied);
    expect(second.stats.pagesWritten).toBeLessThanOrEqual(dirtied + 8);
    expect(second.stats.bytesWritten).toBeLessThan(first.stats.bytesWritten * 0.03);
    expect(written).toEqual([first.stats.bytesWritten, second.stats.bytesWritten]);
    // The chain thaws into the same memory as the running kernel.
    const thawed = await thawProcess(images, second.id, { files: { "/bin/memtouch": guestElf("memtouch") } });
    expect(thawed.kernel.result("stopped").digest).toBe(g.kernel.result("stopped").digest);
  }, 60_000);
});

describe("sys_checkpoint and the checkpoint signals", () => {
  it("ckptself: FREEZE returns 0 and goes on; its thaw sees retval 1 and finishes the same", async () => {
    const images = memoryImages();
    const g = startGuest("ckptself", ["200000"], {}, images);
    const r = await runToEnd(g.kernel);
    expect(r.exitStatus).toBe(0);
    const out = text(g.chunks);
    expect(out).toContain("checkpointed (sys_checkpoint returned 0), continuing");
    expect(g.written.map((w) => w.cause)).toEqual(["syscall"]);
    const thawed = await thawGuest(images, "latest", "ckptself", { retval: 1 });
    const r2 = await runToEnd(thawed.kernel);
    expect(r2.exitStatus).toBe(0);
    const resumed = text(thawed.chunks);
    expect(resumed).toContain("resumed from a checkpoint (sys_checkpoint returned 1)");
    expect(resumed.split("\n").filter((l) => l.includes("result"))).toEqual(
      out.split("\n").filter((l) => l.includes("result")),
    );
  }, 60_000);

  it("ckptself without a checkpoint target: FREEZE writes nothing and returns 0", async () => {
    const g = startGuest("ckptself", ["20000"]);
    const r = g.kernel.runSync({ maxInstructions: 10_000_000 });
    expect(r.exitStatus).toBe(0);
    expect(text(g.chunks)).toContain("sys_checkpoint returned 0");
  });

  it("SIGCKPT's default action checkpoints and continues: the output does not change", async () => {
    const whole = startGuest("primes", ["1000"]);
    const a = await runToEnd(whole.kernel);
    const images = memoryImages();
    const g = startGuest("primes", ["1000"], {}, images);
    await g.kernel.run({ stopAt: 10_000 });
    g.kernel.signalProcess(g.kernel.initPid, SIGCKPT);
    const b = await runToEnd(g.kernel);
    expect(g.written.map((w) => [w.cause, w.instructions])).toEqual([["sigckpt", 10_000]]);
    expect(text(g.chunks)).toBe(text(whole.chunks));
    expect(b.digest).toBe(a.digest);
  });

  it("SIGCKPTEXIT checkpoints and exits; the image carries on to the same end", async () => {
    const whole = startGuest("primes", ["1000"]);
    const a = await runToEnd(whole.kernel);
    const images = memoryImages();
    const g = startGuest("primes", ["1000"], {}, images);
    await g.kernel.run({ stopAt: 12_345 });
    g.kernel.signalProcess(g.kernel.initPid, SIGCKPTEXIT);
    const r = await runToEnd(g.kernel);
    expect(r.exitStatus).toBe(128 + SIGCKPTEXIT);
    expect(g.written.map((w) => w.cause)).toEqual(["sigckptexit"]);
    const thawed = await thawGuest(images, "latest", "primes", {}, [...g.chunks]);
    const b = await runToEnd(thawed.kernel);
    expect(text(thawed.chunks)).toBe(text(whole.chunks));
    expect(b.digest).toBe(a.digest);
  });

  it("sigckpt: ^E on the tty sends SIGCKPT, the handler checkpoints itself, the thaw gets SIGTHAW", async () => {
    const images = memoryImages();
    const g = startGuest("sigckpt", ["300000"], { input: '400000 "\\u0005"' }, images);
    const r = await runToEnd(g.kernel);
    expect(r.exitStatus).toBe(0);
    const out = text(g.chunks);
    expect(out).toContain("checkpoint written, continuing");
    expect(out).toContain("1 checkpoint(s) written here, 0 thaw(s) seen");
    expect(g.written.map((w) => w.cause)).toEqual(["syscall"]);
    const thawed = await thawGuest(images, "latest", "sigckpt");
    const r2 = await runToEnd(thawed.kernel);
    expect(r2.exitStatus).toBe(0);
    const resumed = text(thawed.chunks);
    expect(resumed).toContain("SIGTHAW: this process was thawed");
    expect(resumed).toContain("resumed from the checkpoint (sys_checkpoint returned 1)");
    expect(resumed).toContain("0 checkpoint(s) written here, 1 thaw(s) seen");
  }, 60_000);
});

describe("refused images", () => {
  async function imageOf(images = memoryImages(), embed = false) {
    const g = startGuest("primes", ["1000"]);
    await g.kernel.run({ stopAt: 5_000 });
    const w = await createStoreTarget(images, { embed }).checkpoint(g.kernel, g.kernel.initPid);
    return { images, id: w.id };
  }

  async function snapshot(images: ReturnType<typeof memoryImages>): Promise<string[]> {
    const keys: string[] = [];
    for await (const k of images.blobStore.list("")) keys.push(typeof k === "string" ? k : String(k));
    return keys.sort();
  }

  function expectOneLine(error: unknown, code: string): void {
    expect((error as { code?: string }).code).toBe(code);
    expect((error as Error).message).not.toContain("\n");
  }

  it("refuses a missing executable, and a mismatched one, but runs an embedded copy", async () => {
    const { images, id } = await imageOf();
    const before = await snapshot(images);
    const missing = await thawProcess(images, id).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ThawExecutableMissingError);
    expectOneLine(missing, "CKPT_THAW_EXE_MISSING");
    const other = await thawProcess(images, id, { files: { "/bin/primes": guestElf("hello") } }).catch(
      (e: unknown) => e,
    );
    expect(other).toBeInstanceOf(ThawExecutableMismatchError);
    expectOneLine(other, "CKPT_THAW_EXE_MISMATCH");
    expect(await snapshot(images)).toEqual(before);
    const embedded = await imageOf(memoryImages(), true);
    const thawed = await thawProcess(embedded.images, embedded.id);
    expect((await runToEnd(thawed.kernel)).exitStatus).toBe(0);
  });

  it("refuses an image signed by another key, a truncated one and another major version", async () => {
    const store = createMemoryStore();
    const { id } = await imageOf(createImageStore(store, { signKey: "one key" }));
    const files = { "/bin/primes": guestElf("primes") };
    const wrongKey = await thawProcess(createImageStore(store, { signKey: "another key" }), id, {
      files,
    }).catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(ThawReadError);
    expectOneLine(wrongKey, "CKPT_THAW_READ");
    const key = `manifests/${id}`;
    const bytes = (await store.get(key)) as Uint8Array;
    await store.put(key, bytes.subarray(0, bytes.length - 40));
    const truncated = await thawProcess(createImageStore(store), id, { files }).catch((e: unknown) => e);
    expect(truncated).toBeInstanceOf(ThawReadError);
    expectOneLine(truncated, "CKPT_THAW_READ");
    const v2 = bytes.slice();
    const major = new TextEncoder().encode("major");
    for (let i = 0; i + major.length < v2.length; i++) {
      if (major.every((b, j) => v2[i + j] === b) && v2[i + major.length] === 0x01)
        v2[i + major.length] = 0x02;
    }
    await store.put(key, v2);
    const newer = await thawProcess(createImageStore(store), id, { files }).catch((e: unknown) => e);
    expect(newer).toBeInstanceOf(ThawReadError);
    expect((newer as Error).message).toMatch(/format 2\.\d+ is newer/);
    const unknown = await thawProcess(createImageStore(store), "no-such-image", { files }).catch(
      (e: unknown) => e,
    );
    expect(unknown).toBeInstanceOf(ThawReadError);
  });

  it("freezes nothing it cannot describe: an unknown pid is a typed error", () => {
    const g = startGuest("hello", []);
    expect(() => freezeProcess(g.kernel, 999)).toThrow(/no such process/);
  });
});
