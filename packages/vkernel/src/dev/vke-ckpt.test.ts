/**
 * vke and the checkpoint protocol (ARCHITECTURE §4 steps 5 and 7): datagrams queued in vke at the
 * instant of a checkpoint — in the rx ring, in the host tap's queue and in the tx ring — are not
 * lost, through checkpoint-and-exit with a thaw in a fresh host kernel and through
 * checkpoint-and-continue; and each part of steps 5/7 is needed (`testHooks.skipStep`).
 */
import { type Kernel, signals } from "@vkc/host-kernel";
import { beforeAll, describe, expect, it } from "vitest";
import { VKERNEL_PANIC } from "../platform/vcpu.ts";
import { memoryImages } from "../vkernel-test-support.ts";
import { readVkernelView } from "../vkernel-view.ts";
import { VH_DRAINED, vkeHeader } from "./vke-layout.ts";
import { VkeRing } from "./vke-ring.ts";
import { addPeer, bootNetHost, consoleText, thawNetVkernel } from "./vke-test-support.ts";

/**
 * The peer: d0 first (it resolves the vkernel's MAC with ARP), a burst of 20 at 3 ms to port 7,
 * then, 2 µs later, 80 more split between ports 7 and 8: more than the rx ring's 64 slots, so
 * the host tap's queue backs up while the rx cothread waits for room.
 */
const PORT7 = 61;
const PORT8 = 40;
const COUNT = PORT7 + PORT8;
/** Host quantum. */
const QUANTUM = 10_000;
const PEER = [
  "mac 02:00:00:00:00:fe",
  "ip 10.0.0.2",
  'at 1ms send 10.0.0.1:7 from 9000 "d0"',
  ...Array.from({ length: 20 }, (_, i) => `at 3ms send 10.0.0.1:7 from 9000 "d${i + 1}"`),
  ...Array.from(
    { length: 80 },
    (_, i) => `at 3002us send 10.0.0.1:${i % 2 === 0 ? 7 : 8} from 9000 "d${i + 21}"`,
  ),
].join("\n");
const GUESTS = [
  { program: "udpecho", args: ["7", String(PORT7)] },
  { program: "udpecho", args: ["8", String(PORT8)] },
] as const;
const TAPS = [{ device: "/dev/tap0", address: "10.0.0.1/24" }];
const ALL = Array.from({ length: COUNT }, (_, i) => `d${i}`);

interface Queued {
  rx: number;
  tap: number;
  tx: number;
}

function queued(kernel: Kernel, pid: number): Queued {
  const vm = kernel.procs.get(pid)?.vm;
  if (vm === undefined) return { rx: 0, tap: 0, tx: 0 };
  return {
    rx: new VkeRing(vm, 0, "rx").count(),
    tap: kernel.taps?.unit(0)?.queue.length ?? 0,
    tx: new VkeRing(vm, 0, "tx").count(),
  };
}

/**
 * Boot udpecho (41 datagrams) in a vkernel on tap0 with the peer on br0, run to the first instant
 * frames sit in all three queues, send `sig`; for SIGCKPTEXIT thaw the image in a fresh host
 * kernel (same bridge and peer carried over) and run it on.
 */
async function checkpointWithFramesQueued(
  sig: number,
  skipStep: readonly string[] = [],
  vcpus = 1,
  instant: (q: Queued) => boolean = (q) => q.rx > 0 && q.tap > 0 && q.tx > 0,
) {
  const images = memoryImages();
  const host = bootNetHost(
    [
      {
        guests: GUESTS,
        config: { vcpus, taps: TAPS, testHooks: { skipStep } },
      },
    ],
    { images, host: { quantum: QUANTUM } },
  );
  const peer = addPeer(host.bridges, "peer0", PEER);
  const pid = host.pids[0] as number;
  let at: Queued = { rx: 0, tap: 0, tx: 0 };
  for (let i = 0; i < 20_000; i++) {
    const step = await host.kernel.run({ maxInstructions: 50 });
    at = queued(host.kernel, pid);
    if (instant(at) || step.reason !== "limit") break;
  }
  const repliedBefore = peer.received.length;
  host.kernel.signalProcess(pid, sig);
  const first = await host.kernel.run({ maxInstructions: 400_000_000 });
  const repliedAtFreeze = peer.received.length;
  const drained = host.kernel.procs.get(pid)?.vm.readU32(vkeHeader(0) + VH_DRAINED);
  const written = await images
    .resolve("latest")
    .then(() => true)
    .catch(() => false);
  let out = consoleText(host.chunks);
  let status = first.exitStatus;
  let reason = first.reason;
  if (sig === signals.SIGCKPTEXIT && first.exitStatus === 128 + signals.SIGCKPTEXIT) {
    const b = await thawNetVkernel(images, host.bridges);
    const second = await b.kernel.run({ maxInstructions: 400_000_000 });
    out += consoleText(b.chunks);
    status = second.exitStatus;
    reason = second.reason;
  }
  const view = written ? await readVkernelView(images, "latest") : null;
  const replies = peer.received.map((d) => new TextDecoder().decode(d.payload));
  return { view, at, repliedBefore, repliedAtFreeze, written, first, status, reason, out, replies, drained };
}

let reference: string | undefined;
/** The console output of the same boot without a checkpoint (computed once). */
async function referenceOutput(): Promise<string> {
  if (reference !== undefined) return reference;
  const host = bootNetHost([{ guests: GUESTS, config: { taps: TAPS } }]);
  const peer = addPeer(host.bridges, "peer0", PEER);
  const r = await host.kernel.run({ maxInstructions: 400_000_000 });
  expect(r.exitStatus).toBe(0);
  expect(peer.received.length).toBe(COUNT);
  reference = consoleText(host.chunks);
  return reference;
}

describe("vke at a checkpoint: queued datagrams are not lost", () => {
  beforeAll(async () => {
    await referenceOutput();
  }, 30_000);

  it("checkpoint-and-exit, thaw in a fresh host kernel: every reply still arrives", async () => {
    const r = await checkpointWithFramesQueued(signals.SIGCKPTEXIT);
    expect(r.at.rx).toBeGreaterThan(0);
    expect(r.at.tap).toBeGreaterThan(0);
    expect(r.at.tx).toBeGreaterThan(0);
    expect(r.repliedBefore).toBeLessThan(COUNT);
    expect(r.written).toBe(true);
    expect(r.first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);
    expect(r.drained).toBeGreaterThan(0); // step 5 moved the tap's queue into the rx ring
    expect(r.view?.vke).toEqual([
      {
        name: "vke0",
        device: "/dev/tap0",
        mac: "02:76:6b:65:00:00",
        address: "10.0.0.1/24",
        bridge: "br0",
        rxQueued: expect.any(Number),
        txQueued: expect.any(Number),
        txDropped: 0,
        drained: r.drained,
        tapOpen: false,
      },
    ]);
    expect(r.view?.vke?.[0]?.rxQueued).toBeGreaterThanOrEqual(r.drained ?? 0);
    expect(r.status).toBe(0);
    expect([...r.replies].sort()).toEqual([...ALL].sort());
    expect(r.out).toBe(await referenceOutput());
  }, 30_000);

  it("the same with 2 vCPUs (the other vCPU parked by stop_cpus during step 5)", async () => {
    // On 2 vCPUs the rx ring is emptied faster; the instant has frames in the tap and the tx ring.
    const r = await checkpointWithFramesQueued(signals.SIGCKPTEXIT, [], 2, (q) => q.tap > 0 && q.tx > 0);
    expect(r.at.tap).toBeGreaterThan(0);
    expect(r.at.tx).toBeGreaterThan(0);
    expect(r.first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);
    expect(r.status).toBe(0);
    expect([...r.replies].sort()).toEqual([...ALL].sort());
  }, 30_000);

  it("a reply still in the tx ring at the freeze is in the image and is sent after the thaw", async () => {
    // The first instant a reply sits in the tx ring (d0's echo): the protocol pauses the tx
    // cothread before it writes it.
    const r = await checkpointWithFramesQueued(signals.SIGCKPTEXIT, [], 1, (q) => q.tx > 0);
    expect(r.view?.vke?.[0]?.txQueued).toBeGreaterThan(0);
    expect(r.repliedAtFreeze).toBe(0);
    expect(r.status).toBe(0);
    expect([...r.replies].sort()).toEqual([...ALL].sort());
  }, 30_000);

  it("checkpoint-and-continue: every reply arrives and udpecho finishes", async () => {
    const r = await checkpointWithFramesQueued(signals.SIGCKPT);
    expect(r.at.tap).toBeGreaterThan(0);
    expect(r.written).toBe(true);
    expect(r.status).toBe(0);
    expect([...r.replies].sort()).toEqual([...ALL].sort());
    expect(r.out).toBe(await referenceOutput());
  }, 30_000);
});

describe("vke's parts of steps 5 and 7 are each needed", () => {
  it("step 5, skip the drain: the frames in the host tap's queue are lost with the close", async () => {
    const r = await checkpointWithFramesQueued(signals.SIGCKPTEXIT, ["5-drain"]);
    expect(r.at.tap).toBeGreaterThan(0);
    expect(r.written).toBe(true);
    expect(r.drained).toBe(0);
    expect(r.replies.length).toBeLessThan(COUNT);
    expect(r.reason).toBe("deadlock"); // udpecho waits for datagrams that never come
  }, 30_000);

  it("step 5, skip the close: the tap is still held at step 7, whose reopen fails (EBUSY): a panic", async () => {
    // The host can freeze a tap descriptor now, so the FREEZE itself succeeds; the thawed host
    // process gets the tap back, and the vkernel's own reopen finds the unit taken.
    const cont = await checkpointWithFramesQueued(signals.SIGCKPT, ["5-close"]);
    expect(cont.status).toBe(VKERNEL_PANIC);
    const exit = await checkpointWithFramesQueued(signals.SIGCKPTEXIT, ["5-close"]);
    expect(exit.written).toBe(true);
    expect(exit.first.exitStatus).toBe(128 + signals.SIGCKPTEXIT);
    expect(exit.status).toBe(VKERNEL_PANIC);
  }, 30_000);

  it("step 7, skip the reopen: no reply after the thaw", async () => {
    const r = await checkpointWithFramesQueued(signals.SIGCKPTEXIT, ["7-reopen"]);
    expect(r.written).toBe(true);
    expect(r.replies.length).toBe(r.repliedAtFreeze);
    // Every datagram got in (the rings and what step 5 drained), but no echo got out.
    expect(r.out.split("\n").filter((l) => l.startsWith("echo ")).length).toBe(COUNT);
  }, 30_000);
});
