import { describe, expect, it } from "vitest";
import { PAGE_SIZE, Stop } from "../cpu/cpu-types.ts";
import { Hart } from "../cpu/hart.ts";
import * as A from "../cpu/test-asm.ts";
import { CODE_BASE, PROT_RW, PROT_RX, TestMemory } from "../cpu/test-memory.ts";
import { InitialStackArgumentError, InitialStackTooLargeError } from "./elf-errors.ts";
import {
  AT_ENTRY,
  AT_NULL,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_RANDOM,
  AT_UID,
  buildInitialStack,
  type InitialStackRequest,
} from "./initial-stack.ts";

const TOP = 0xbfff0000;
const RANDOM = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

function request(over: Partial<InitialStackRequest> = {}): InitialStackRequest {
  return {
    argv: ["/bin/echo", "héllo", ""],
    envp: ["HOME=/", "TERM=vt100"],
    auxv: { phdr: 0x10034, phent: 32, phnum: 3, entry: 0x10100, uid: 1000, gid: 100 },
    stackTop: TOP,
    random16: RANDOM,
    ...over,
  };
}

/** Read the layout back the way a C runtime would. */
function readBack(bytes: Uint8Array, sp: number) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (addr: number): number => v.getUint32(addr - sp, true);
  const cstring = (addr: number): string => {
    let end = addr - sp;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(addr - sp, end));
  };
  let p = sp;
  const argc = word(p);
  p += 4;
  const argv: string[] = [];
  for (let i = 0; i < argc; i++, p += 4) argv.push(cstring(word(p)));
  expect(word(p)).toBe(0);
  p += 4;
  const envp: string[] = [];
  for (; word(p) !== 0; p += 4) envp.push(cstring(word(p)));
  p += 4;
  const auxv = new Map<number, number>();
  for (;;) {
    const type = word(p);
    const value = word(p + 4);
    p += 8;
    if (type === AT_NULL) break;
    auxv.set(type, value);
  }
  return { argc, argv, envp, auxv, end: p };
}

describe("buildInitialStack", () => {
  it("lays out argc, argv, envp, auxv, strings and AT_RANDOM below stackTop", () => {
    const { bytes, sp, argvAddr, envpAddr } = buildInitialStack(request());
    expect(sp % 16).toBe(0);
    expect(sp + bytes.length).toBe(TOP);
    const back = readBack(bytes, sp);
    expect(back.argc).toBe(3);
    expect(back.argv).toEqual(["/bin/echo", "héllo", ""]);
    expect(back.envp).toEqual(["HOME=/", "TERM=vt100"]);
    expect(argvAddr).toBe(sp + 4);
    expect(envpAddr).toBe(sp + 4 + 4 * 4);
    expect(back.auxv.get(AT_PHDR)).toBe(0x10034);
    expect(back.auxv.get(AT_PHENT)).toBe(32);
    expect(back.auxv.get(AT_PHNUM)).toBe(3);
    expect(back.auxv.get(AT_PAGESZ)).toBe(4096);
    expect(back.auxv.get(AT_ENTRY)).toBe(0x10100);
    expect(back.auxv.get(AT_UID)).toBe(1000);
    const random = back.auxv.get(AT_RANDOM)!;
    expect([...bytes.subarray(random - sp, random - sp + 16)]).toEqual([...RANDOM]);
    expect(random + 16).toBeLessThanOrEqual(TOP);
    // strings sit above the auxiliary vector
    expect(back.end).toBeLessThanOrEqual(sp + bytes.length);
  });

  it("handles no arguments and no environment", () => {
    const { bytes, sp } = buildInitialStack(request({ argv: [], envp: [] }));
    const back = readBack(bytes, sp);
    expect(back.argc).toBe(0);
    expect(back.envp).toEqual([]);
    expect(sp % 16).toBe(0);
  });

  it("passes extra auxv entries through", () => {
    const { bytes, sp } = buildInitialStack(request({ auxv: { ...request().auxv, extra: [[51, 4096]] } }));
    expect(readBack(bytes, sp).auxv.get(51)).toBe(4096);
  });

  it("refuses a layout over the limit (E2BIG)", () => {
    const big = "x".repeat(200_000);
    let error: unknown;
    try {
      buildInitialStack(request({ argv: [big, big] }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InitialStackTooLargeError);
    expect((error as InitialStackTooLargeError).code).toBe("E2BIG");
  });

  it("refuses strings with NUL bytes and a short AT_RANDOM", () => {
    expect(() => buildInitialStack(request({ envp: ["A=\0B"] }))).toThrow(
      new InitialStackArgumentError("envp[0] contains a NUL byte"),
    );
    expect(() => buildInitialStack(request({ random16: new Uint8Array(8) }))).toThrow(
      /AT_RANDOM needs 16 bytes/,
    );
  });

  it("is what a RISC-V program sees at entry: argc at sp, argv[1] through the pointers", () => {
    const { bytes, sp } = buildInitialStack(request());
    const mem = new TestMemory();
    mem.map(CODE_BASE, PAGE_SIZE, PROT_RX);
    mem.map(TOP - 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_RW);
    mem.writeBytes(sp, bytes);
    mem.writeWords(
      CODE_BASE,
      [
        A.lw(10, 2, 0), // a0 = argc
        A.lw(11, 2, 8), // a1 = argv[1]
        A.lbu(12, 11, 1), // a2 = argv[1][1] ('é' first UTF-8 byte)
        A.andi(13, 2, 15), // a3 = sp & 15
        A.ebreak(),
      ].flat(),
    );
    const hart = new Hart(mem);
    hart.pc = CODE_BASE;
    hart.x[2] = sp;
    expect(hart.run(10)).toBe(Stop.Ebreak);
    expect(hart.x[10]).toBe(3);
    expect(hart.x[12]).toBe(0xc3);
    expect(hart.x[13]).toBe(0);
  });
});
