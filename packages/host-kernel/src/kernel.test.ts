import { describe, expect, it } from "vitest";
import { Hart } from "./cpu/hart.ts";
import { addi, ecall, li } from "./cpu/test-asm.ts";
import { createKernel } from "./kernel.ts";
import { DATA, image, RecordingConsole, spawnCode } from "./kernel-test-support.ts";
import { SYS_exit, SYS_getpid, SYS_read, SYS_write } from "./syscall/syscall-numbers.ts";

const hello = new TextEncoder().encode("hello\n");

function helloProgram(): (number | number[])[] {
  return [
    li(10, 1),
    li(11, DATA),
    li(12, hello.length),
    li(17, SYS_write),
    ecall(),
    li(17, SYS_getpid),
    ecall(),
    addi(10, 10, 40),
    li(17, SYS_exit),
    ecall(),
  ];
}

describe("kernel", () => {
  it("runs a program that writes to the console and exits", async () => {
    const console = new RecordingConsole();
    const k = createKernel({ console });
    const pid = spawnCode(k, helloProgram(), hello);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(console.text()).toBe("hello\r\n");
    expect(r.exitStatus).toBe(pid + 40);
    expect(r.instructions).toBeGreaterThan(10);
    expect(r.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives the same digest for the same program and seed", async () => {
    const digests = [];
    for (let i = 0; i < 2; i++) {
      const k = createKernel({ seed: 7 });
      spawnCode(k, helloProgram(), hello);
      digests.push((await k.run()).digest);
    }
    expect(digests[0]).toBe(digests[1]);
  });

  it("rejects bad options", () => {
    expect(() => createKernel({ cpus: 0 })).toThrow(/cpus/);
    expect(() => createKernel({ cpus: 65 })).toThrow(/cpus/);
    expect(() => createKernel({ seed: -1 })).toThrow(/seed/);
  });

  it("returns ENOSYS for unknown syscalls", async () => {
    const k = createKernel();
    spawnCode(k, [li(17, 999), ecall(), li(11, 0), addi(10, 10, 100), li(17, SYS_exit), ecall()]);
    const r = await k.run();
    expect(r.exitStatus).toBe((100 - 38) & 0xff);
  });
});

describe("run control", () => {
  it("stops exactly at stopAt and continuing gives the same end state as one run", async () => {
    const elfless = () => {
      const k = createKernel({ cpus: 2, seed: 9, quantum: 37 });
      spawnCode(k, helloProgram(), hello);
      return k;
    };
    const whole = await elfless().run();
    const k = elfless();
    const part = await k.run({ stopAt: 7 });
    expect(part.reason).toBe("stopped");
    expect(part.instructions).toBe(7);
    const rest = await k.run();
    expect(rest.digest).toBe(whole.digest);
    expect(rest.instructions).toBe(whole.instructions);
  });

  it("stops with reason limit after maxInstructions", async () => {
    const k = createKernel();
    spawnCode(k, helloProgram(), hello);
    const r = await k.run({ maxInstructions: 3 });
    expect(r.reason).toBe("limit");
    expect(r.instructions).toBe(3);
    expect(r.exitStatus).toBeNull();
  });

  it("stops a process on SIGSTOP and resumes it on SIGCONT", async () => {
    const console = new RecordingConsole();
    const k = createKernel({ console });
    const pid = spawnCode(k, helloProgram(), hello);
    k.signalProcess(pid, 19);
    const r1 = await k.run();
    expect(r1.reason).toBe("deadlock");
    expect(k.procs.get(pid)?.stopped).toBe(true);
    k.signalProcess(pid, 18);
    const r2 = await k.run();
    expect(r2.reason).toBe("exited");
    expect(console.text()).toBe("hello\r\n");
  });

  it("a signal posted from outside wakes a run that waits for live terminal input", async () => {
    const k = createKernel({ liveInput: true });
    // read(0, DATA, 1) blocks on the tty: the run then waits for typed input.
    const pid = spawnCode(k, [li(10, 0), li(11, DATA), li(12, 1), li(17, SYS_read), ecall()]);
    const run = k.run();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(k.lwps.values().next().value?.state).toBe("sleeping");
    k.signalProcess(pid, 9);
    const r = await run;
    expect(r.reason).toBe("exited");
    expect(k.procs.get(pid)?.exitStatus).toBe(128 + 9);
  });

  it("returns EFAULT for a buffer outside the address space", async () => {
    const k = createKernel();
    spawnCode(k, [
      li(10, 1),
      li(11, 0x123),
      li(12, 4),
      li(17, SYS_write),
      ecall(),
      li(17, SYS_exit),
      ecall(),
    ]);
    const r = await k.run();
    expect(r.exitStatus).toBe(-14 & 0xff);
  });

  it("throws SpawnError for bytes that are not an ELF", () => {
    const k = createKernel();
    expect(() => k.spawn({ path: "/x", elf: new Uint8Array(64) })).toThrow(/cannot spawn \/x/);
    expect(() => k.spawn({ path: "/missing" })).toThrow(/no such file/);
    expect(() => k.spawnImage({ path: "/big", argv: ["x".repeat(300_000)] }, image([0]))).toThrow(
      /cannot spawn \/big/,
    );
    expect(k.procs.size).toBe(0);
    // the sigcode page survives the failed spawns
    const pid = spawnCode(k, helloProgram(), hello);
    expect(k.procs.get(pid)?.vm.copyin(0xffffe000, 8)).toEqual(
      new Uint8Array([0x93, 0x08, 0xb0, 0x08, 0x73, 0, 0, 0]),
    );
  });
});

describe("platform", () => {
  it("creates every LWP's hart through the createHart option", async () => {
    const made: number[] = [];
    const k = createKernel({
      createHart: (vm) => {
        made.push(vm.entries.length);
        return new Hart(vm);
      },
    });
    spawnCode(k, helloProgram(), hello);
    expect((await k.run()).reason).toBe("exited");
    expect(made).toHaveLength(1);
  });
});
