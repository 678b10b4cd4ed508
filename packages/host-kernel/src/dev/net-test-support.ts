/**
 * Test doubles for network device tests: a DeviceHost that records wakeups and has a settable
 * virtual clock, a FileCaller over a small flat memory, and a helper that issues a syscall the
 * way the kernel does (a Block becomes -EAGAIN under O_NONBLOCK). Not exported from the package.
 */

import {
  type DeviceHost,
  type FileCaller,
  type FileOps,
  type IoResult,
  isBlock,
  O_NONBLOCK,
  type OpenFileState,
} from "../fs/file-types.ts";
import { EAGAIN, EFAULT } from "../syscall/errno.ts";

export class FakeHost implements DeviceHost {
  time = 0;
  readonly wakeups: string[] = [];
  wakeup(chan: string): void {
    this.wakeups.push(chan);
  }
  signalProcessGroup(): void {}
  signalProcess(): void {}
  now(): number {
    return this.time;
  }
  consoleWrite(): void {}
}

export class FakeCaller implements FileCaller {
  readonly pid = 1;
  readonly tid = 1;
  readonly pgid = 1;
  readonly sid = 1;
  readonly memory = new Uint8Array(4096);
  copyin(addr: number, len: number): Uint8Array | number {
    if (addr < 0 || addr + len > this.memory.length) return -EFAULT;
    return this.memory.slice(addr, addr + len);
  }
  copyout(addr: number, bytes: Uint8Array): number {
    if (addr < 0 || addr + bytes.length > this.memory.length) return -EFAULT;
    this.memory.set(bytes, addr);
    return 0;
  }
}

/** Apply the kernel's blocking rule to one result: -EAGAIN under O_NONBLOCK, else the Block. */
export function asSyscall(file: OpenFileState, result: IoResult): IoResult {
  return isBlock(result) && (file.flags & O_NONBLOCK) !== 0 ? -EAGAIN : result;
}

export function readVia(ops: FileOps, file: OpenFileState, size: number, caller: FileCaller) {
  const buf = new Uint8Array(size);
  const result = asSyscall(file, ops.read(file, buf, caller));
  return {
    result,
    bytes: typeof result === "number" && result > 0 ? buf.subarray(0, result) : new Uint8Array(0),
  };
}
