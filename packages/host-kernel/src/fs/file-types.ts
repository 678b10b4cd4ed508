/**
 * The open-file interface: what every kind of file (VFS vnode, pipe end, tty, tap device, ...)
 * implements so that read/write/lseek/ioctl/poll/close syscalls can reach it.
 *
 * Rules (stable contract, other engineers implement devices against it):
 *
 * - A `FileOps` method never blocks. When it cannot make progress it returns `blockOn(chan)`;
 *   the kernel then returns -EAGAIN if the open file has O_NONBLOCK, otherwise it puts the calling
 *   LWP to sleep on `chan` and *re-issues the same syscall* when the LWP is woken (so a method must
 *   not have consumed or produced anything when it returns a block).
 * - A wait channel is a plain string (saved as-is by a freeze). Use a prefix per device and
 *   instance, e.g. `tap:tap0:rx`, `pipe:7:r`. Wake sleepers with `host.wakeup(chan)`, from a
 *   method or from outside any syscall (a frame arriving on a bridge): every LWP sleeping on
 *   `chan` becomes runnable and retries.
 * - Results are numbers: a byte count / value >= 0, or `-errno` (see src/syscall/errno.ts).
 * - Signals go through `host.signalProcessGroup(pgid, sig)` / `host.signalProcess(pid, sig)`.
 * - Keep device state in plain enumerable fields (no closures): the freeze/thaw code saves it.
 */

/** A wait channel: the key LWPs sleep on. Plain string so a checkpoint can save it. */
export type WaitChannel = string;

/**
 * Returned by a `FileOps` method that would block. With `deadline` (virtual ns, absolute) the
 * kernel also retries the call at that time with `caller.timedOut` set (tty VTIME, timeouts).
 */
export interface Block {
  readonly block: WaitChannel;
  readonly deadline?: number;
}

/** `n >= 0` done, `n < 0` = -errno, or a `Block`. */
export type IoResult = number | Block;

export function blockOn(chan: WaitChannel, deadline?: number): Block {
  return deadline === undefined ? { block: chan } : { block: chan, deadline };
}

export function isBlock(result: IoResult): result is Block {
  return typeof result === "object";
}

/** poll readiness bits (Linux values). */
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** lseek whence values. */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/** open(2) flags (Linux values, the ABI). */
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0x40;
export const O_EXCL = 0x80;
export const O_NOCTTY = 0x100;
export const O_TRUNC = 0x200;
export const O_APPEND = 0x400;
export const O_NONBLOCK = 0x800;
export const O_DIRECTORY = 0x10000;
export const O_CLOEXEC = 0x80000;

/**
 * Services the kernel gives files and devices. One instance per kernel; devices may keep a
 * reference (it is not part of their saved state).
 */
export interface DeviceHost {
  /** Make every LWP sleeping on `chan` runnable (it retries its syscall). */
  wakeup(chan: WaitChannel): void;
  /** Post `sig` to every process in group `pgid` (no-op for an empty group). */
  signalProcessGroup(pgid: number, sig: number): void;
  /** Post `sig` to process `pid` (process-directed). */
  signalProcess(pid: number, sig: number): void;
  /** Virtual time in nanoseconds (1 retired instruction = 1 ns). */
  now(): number;
  /** Write bytes to the console sink (the tty uses this for output). */
  consoleWrite(bytes: Uint8Array): void;
}

/** Who is calling a file method, and access to the caller's memory (for ioctl arguments). */
export interface FileCaller {
  readonly pid: number;
  readonly tid: number;
  readonly pgid: number;
  readonly sid: number;
  /** True when this is the retry of a call whose Block deadline passed (see `Block`). */
  readonly timedOut?: boolean;
  /** Copy `len` bytes from user address `addr`, or -EFAULT. */
  copyin(addr: number, len: number): Uint8Array | number;
  /** Copy `bytes` to user address `addr`: 0 or -EFAULT. */
  copyout(addr: number, bytes: Uint8Array): number;
}

/** The state of one open file description that the kernel keeps (shared by dup'd fds). */
export interface OpenFileState {
  /** O_ACCMODE | O_APPEND | O_NONBLOCK bits as opened (fcntl may change the last two). */
  flags: number;
  /** Byte offset for seekable files. */
  offset: number;
}

/** Operations of one kind of file. Methods other than read/write/close are optional. */
export interface FileOps {
  /** A short stable name of the kind: "vnode", "pipe", "tty", "tap", ... (saved in images). */
  readonly kind: string;
  /**
   * Read up to `buf.length` bytes into `buf` at `file.offset` (seekable files advance it
   * themselves). Returns the count (0 = end of file), -errno, or a Block.
   */
  read(file: OpenFileState, buf: Uint8Array, caller: FileCaller): IoResult;
  /** Write `data`; returns the count written (may be short), -errno, or a Block. */
  write(file: OpenFileState, data: Uint8Array, caller: FileCaller): IoResult;
  /** Set `file.offset` as lseek(2) says and return it, or -errno. Absent: -ESPIPE. */
  lseek?(file: OpenFileState, offset: number, whence: number): number;
  /** Device control. `arg` is the raw a2 register (often a user pointer). Absent: -ENOTTY. */
  ioctl?(file: OpenFileState, request: number, arg: number, caller: FileCaller): IoResult;
  /** Readiness now, as POLL* bits. */
  poll(file: OpenFileState): number;
  /** The last descriptor referring to this open file was closed. */
  close(file: OpenFileState): void;
}

/** An open file description: kernel state + the ops of its kind. */
export interface OpenFile extends OpenFileState {
  readonly ops: FileOps;
  /** Number of descriptor-table slots (in any process) referring to this description. */
  refs: number;
}

/**
 * A device node in the VFS (e.g. /dev/tap0, /dev/tty). `open` returns the ops for a new open
 * file description, or -errno.
 */
export interface DeviceNode {
  readonly kind: string;
  open(flags: number, host: DeviceHost): FileOps | number;
}
