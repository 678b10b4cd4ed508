import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import {
  BridgeRegistry,
  type CheckpointTarget,
  createKernel,
  createStoreTarget,
  STACK_SIZE,
  STACK_TOP,
  syscalls,
  tapIoctl,
} from "@vkc/host-kernel";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  loadByteProbeElf,
  PROBE_BASE,
  PROBE_DATA,
  probeElf,
  syscallProbeElf,
} from "./__fixtures__/probe-elf.ts";
import { VKERNEL_PATH } from "./vkernel-config.ts";
import { createVkernelProgram } from "./vkernel-program.ts";

/**
 * Isolation campaign (issue #9, packages/cli/RELIABILITY.md "Isolation (vkernel part)"): a guest in
 * a vkernel reaches nothing but its own pages and its own descriptors. Random page addresses over
 * the whole 32-bit space, a neighbour guest's bytes at the same virtual address, the vkernel's
 * host descriptors (its tap and console fds), and the host's vmspace and checkpoint calls.
 */

const SEED = Number(process.env.VKC_CAMPAIGN_SEED ?? 20261128) >>> 0;
const SIGSEGV_STATUS = 128 + 11;
/** A syscall's -errno as the probe's exit status (the low byte of a0). */
const errnoStatus = (errno: number): number => (256 - errno) & 0xff;
const EBADF = 9;
const ENOENT = 2;

interface Boot {
  guests: readonly Uint8Array[];
  taps?: boolean;
  target?: CheckpointTarget;
}

/** Boot `guests` in a vkernel (the first guest's exit status is the vkernel's). */
async function boot({ guests, taps = false, target }: Boot): Promise<number | null> {
  const bridges = new BridgeRegistry();
  bridges.create("br0");
  const files: Record<string, Uint8Array> = {};
  guests.forEach((elf, i) => {
    files[`/guest/${i}`] = elf;
  });
  const kernel = createKernel({
    files,
    ...(taps ? { network: { bridges, taps: 1 } } : {}),
    ...(target ? { checkpointTarget: target } : {}),
    natives: {
      [VKERNEL_PATH]: createVkernelProgram({
        vcpus: 1,
        memoryBytes: 4 * 1024 * 1024,
        guests: guests.map((_, i) => ({ path: `/guest/${i}`, argv: [`g${i}`] })),
        ...(taps ? { taps: [{ device: "/dev/tap0", address: "10.0.0.2/24" }] } : {}),
      }),
    },
  });
  kernel.spawn({ path: VKERNEL_PATH, argv: ["vkernel"] });
  return (await kernel.run({ maxInstructions: 20_000_000 })).exitStatus;
}

/** The probe's own page and its stack are the only pages it has. */
const own = (page: number): boolean =>
  page === PROBE_BASE || (page >= STACK_TOP - STACK_SIZE && page < STACK_TOP);

describe("isolation campaign: a vkernel guest reaches only its own pages", () => {
  it("random page addresses over the whole 32-bit space are SIGSEGV, for reads and writes", async () => {
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0xfffff }).filter((p) => !own(p * 4096)),
        fc.boolean(),
        async (page, write) => {
          tried++;
          expect(await boot({ guests: [probeElf(page * 4096, write)] })).toBe(SIGSEGV_STATUS);
        },
      ),
      { numRuns: 100, seed: SEED },
    );
    console.log(
      `[campaign] isolation/vkernel-memory: ${tried} random page probes, all SIGSEGV (seed ${SEED})`,
    );
  });

  it("a neighbour guest's bytes at the same virtual address are not visible", async () => {
    // The neighbour's image has 0x5a bytes at PROBE_DATA; at the same address the probe's own
    // (shorter) image has zeros. The probe must read its own zero.
    const marked = new Uint8Array(64).fill(0x5a);
    const neighbour = loadByteProbeElf(PROBE_DATA, marked);
    expect(await boot({ guests: [loadByteProbeElf(PROBE_DATA), neighbour] })).toBe(0);
    // The neighbour, booted first, reads its own marker there: the probe does see bytes it owns.
    expect(await boot({ guests: [neighbour, loadByteProbeElf(PROBE_DATA)] })).toBe(0x5a);
  });
});

describe("isolation campaign: a vkernel guest cannot touch host descriptors or host calls", () => {
  const cases: [string, Uint8Array, number][] = [
    ...[3, 4, 5, 6, 7, 8].flatMap((fd): [string, Uint8Array, number][] => [
      [
        `read(${fd}) (the vkernel holds its tap and cothread fds on the host)`,
        syscallProbeElf(syscalls.SYS_read, [fd, PROBE_DATA, 16]),
        errnoStatus(EBADF),
      ],
      [`write(${fd})`, syscallProbeElf(syscalls.SYS_write, [fd, PROBE_DATA, 16]), errnoStatus(EBADF)],
    ]),
    [
      "ioctl(3, TAPGIFNAME)",
      syscallProbeElf(syscalls.SYS_ioctl, [3, tapIoctl.TAPGIFNAME, PROBE_DATA]),
      errnoStatus(EBADF),
    ],
    ["close(3)", syscallProbeElf(syscalls.SYS_close, [3]), errnoStatus(EBADF)],
    [
      "openat(/dev/tap0): the host's tap node is not in the guest's namespace",
      syscallProbeElf(syscalls.SYS_openat, [-100, PROBE_DATA, 2], new TextEncoder().encode("/dev/tap0\0")),
      errnoStatus(ENOENT),
    ],
    [
      "vmspace_ctl(RUN) on the host vmspace id the vkernel gave this very guest",
      syscallProbeElf(syscalls.SYS_vmspace_ctl, [0x8000_0001, 1, PROBE_DATA]),
      errnoStatus(ENOENT),
    ],
    [
      "vmspace_destroy of that id",
      syscallProbeElf(syscalls.SYS_vmspace_destroy, [0x8000_0001]),
      errnoStatus(ENOENT),
    ],
  ];
  for (const [what, elf, status] of cases) {
    it(`${what} fails inside the guest`, async () => {
      expect(await boot({ guests: [elf], taps: true })).toBe(status);
    });
  }

  it("sys_checkpoint(FREEZE) from a guest checkpoints nowhere: the vkernel on the host is not frozen", async () => {
    const images = createImageStore(createMemoryStore());
    const guest = syscallProbeElf(syscalls.SYS_checkpoint, [1, -1, -1, 0]);
    // The inner kernel has no checkpoint target: the call returns 0 and writes nothing anywhere.
    expect(await boot({ guests: [guest], target: createStoreTarget(images) })).toBe(0);
    expect(await images.list()).toEqual([]);
  });
});
