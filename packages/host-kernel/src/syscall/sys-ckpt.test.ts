import { describe, expect, it } from "vitest";
import { createStoreTarget } from "../ckpt/ckpt-target.ts";
import { memoryImages } from "../ckpt/ckpt-test-support.ts";
import { createKernel, type KernelOptions } from "../kernel.ts";
import { spawnCode, sys } from "../kernel-test-support.ts";
import { EBADF, EINVAL, EOPNOTSUPP } from "./errno.ts";
import { SYS_checkpoint, SYS_exit } from "./syscall-numbers.ts";

/** Exit status of a process that makes one sys_checkpoint call and exits with its result. */
async function statusOf(args: number[], options: KernelOptions = {}): Promise<number | null> {
  const k = createKernel(options);
  // sys_checkpoint(...), then exit(a0): the status is the result & 0xff.
  spawnCode(k, [...sys(SYS_checkpoint, ...args), ...sys(SYS_exit)]);
  return (await k.run({ maxInstructions: 1000 })).exitStatus;
}

const err = (e: number): number => -e & 0xff;

describe("sys_checkpoint(type, fd, pid, retval)", () => {
  const target = (): KernelOptions => ({ checkpointTarget: createStoreTarget(memoryImages()) });

  it("FREEZE of itself returns 0 once the image is written, with or without a target", async () => {
    const images = memoryImages();
    const options = { checkpointTarget: createStoreTarget(images) };
    expect(await statusOf([1, -1, -1, 0], options)).toBe(0);
    expect(await statusOf([1, -1, 1, 0], options)).toBe(0); // its own pid (the first process is 1)
    expect((await images.list()).length).toBe(2);
    expect(await statusOf([1, -1, -1, 0])).toBe(0);
  });

  it("refuses another pid (EINVAL), a real fd (EOPNOTSUPP, EBADF if not open), THAW and unknown types", async () => {
    expect(await statusOf([1, -1, 77, 0], target())).toBe(err(EINVAL));
    expect(await statusOf([1, 1, -1, 0], target())).toBe(err(EOPNOTSUPP));
    expect(await statusOf([1, 9, -1, 0], target())).toBe(err(EBADF));
    expect(await statusOf([2, 3, -1, 1], target())).toBe(err(EOPNOTSUPP));
    expect(await statusOf([3, -1, -1, 0], target())).toBe(err(EOPNOTSUPP));
    expect(await statusOf([9, -1, -1, 0], target())).toBe(err(EINVAL));
  });

  it("runSync cannot await a store: a FREEZE there fails with EOPNOTSUPP", () => {
    const k = createKernel(target());
    spawnCode(k, [...sys(SYS_checkpoint, 1, -1, -1, 0), ...sys(SYS_exit)]);
    expect(k.runSync({ maxInstructions: 1000 }).exitStatus).toBe(err(EOPNOTSUPP));
  });
});
