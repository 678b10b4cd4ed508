import { EBADF, EMFILE } from "../syscall/errno.ts";
import type { FileOps, OpenFile } from "./file-types.ts";

/** Per-process descriptor limit (fd numbers 0..FD_LIMIT-1). */
export const FD_LIMIT = 1024;

export interface FdSlot {
  file: OpenFile;
  cloexec: boolean;
}

export function newOpenFile(ops: FileOps, flags: number): OpenFile {
  return { ops, flags, offset: 0, refs: 0 };
}

/** A process's descriptor table: fd number → open file description + close-on-exec flag. */
export class FdTable {
  readonly slots: (FdSlot | null)[] = [];

  get(fd: number): OpenFile | null {
    if (!Number.isInteger(fd) || fd < 0) return null;
    return this.slots[fd]?.file ?? null;
  }

  /** Install `file` in the lowest free slot >= `min`; the fd or -EMFILE. */
  install(file: OpenFile, cloexec: boolean, min = 0): number {
    for (let fd = min; fd < FD_LIMIT; fd++) {
      if ((this.slots[fd] ?? null) === null) {
        this.installAt(fd, file, cloexec);
        return fd;
      }
    }
    return -EMFILE;
  }

  /** Install at exactly `fd`, closing what was there. */
  installAt(fd: number, file: OpenFile, cloexec: boolean): void {
    if (this.slots[fd] != null) this.close(fd);
    while (this.slots.length <= fd) this.slots.push(null);
    file.refs += 1;
    this.slots[fd] = { file, cloexec };
  }

  /** Close `fd`: 0 or -EBADF. Calls the file's `close` when the last reference goes. */
  close(fd: number): number {
    const slot = fd >= 0 ? (this.slots[fd] ?? null) : null;
    if (slot === null) return -EBADF;
    this.slots[fd] = null;
    slot.file.refs -= 1;
    if (slot.file.refs === 0) slot.file.ops.close(slot.file);
    return 0;
  }

  closeAll(): void {
    for (let fd = 0; fd < this.slots.length; fd++) if (this.slots[fd] != null) this.close(fd);
  }

  /** A copy sharing every open file description (fork). */
  fork(): FdTable {
    const t = new FdTable();
    this.slots.forEach((slot, fd) => {
      if (slot !== null) t.installAt(fd, slot.file, slot.cloexec);
    });
    return t;
  }

  /** Descriptors in use, ascending. */
  open(): number[] {
    const out: number[] = [];
    this.slots.forEach((slot, fd) => {
      if (slot !== null) out.push(fd);
    });
    return out;
  }
}
