import { failCheckpoints, serviceCheckpoints } from "./ckpt/ckpt-service.ts";
import type { CheckpointRequest, CheckpointTarget } from "./ckpt/ckpt-types.ts";
import { Fault, Stop } from "./cpu/cpu-types.ts";
import { Hart } from "./cpu/hart.ts";
import type { BridgeRegistry } from "./dev/bridge-registry.ts";
import { type InputEvent, parseInputScript } from "./dev/input-script.ts";
import { TapDevices } from "./dev/tap-devices.ts";
import { NullDevice, Tty } from "./dev/tty.ts";
import { KernelOptionError, SpawnError } from "./errors.ts";
import { FdTable, newOpenFile } from "./fs/fd-table.ts";
import {
  type DeviceHost,
  type DeviceNode,
  type FileCaller,
  O_RDWR,
  type WaitChannel,
} from "./fs/file-types.ts";
import { Vfs } from "./fs/vfs.ts";
import { computeDigest } from "./kernel-digest.ts";
import { buildStack, type LoadedElf, loadElfImage } from "./kernel-exec.ts";
import { NativeHart } from "./native/native-hart.ts";
import type { NativeProgram, NativeState } from "./native/native-types.ts";
import { attachNetifs, flushBridges } from "./net/net-attach.ts";
import { NetStack } from "./net/net-stack.ts";
import type { Netif } from "./net/netif.ts";
import type { BridgeNetifOptions } from "./net/netif-bridge.ts";
import type { LwpHart } from "./proc/proc-hart.ts";
import { Scheduler } from "./proc/proc-sched.ts";
import { Lwp, Process, type SigInfo } from "./proc/proc-types.ts";
import { deliverSignals } from "./signal/signal-deliver.ts";
import {
  BUS_ADRALN,
  BUS_ADRERR,
  CANTMASK,
  ILL_ILLOPC,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SI_KERNEL,
  SIGBUS,
  SIGCHLD,
  SIGILL,
  SIGSEGV,
  SIGTRAP,
  TRAP_BRKPT,
} from "./signal/signal-numbers.ts";
import { forceSignal, postToLwp, postToProcess, signalIgnored } from "./signal/signal-post.ts";
import { ENOSYS, ETIMEDOUT } from "./syscall/errno.ts";
import { CLD_EXITED, CLD_KILLED, noChildWait, waitChannel } from "./syscall/sys-fork.ts";
import { syscallTable } from "./syscall/syscall-table.ts";
import { JUSTRETURN, type SyscallResult } from "./syscall/syscall-types.ts";
import { VmObject } from "./vm/vm-object.ts";
import { VmObjectIds, VmSpace } from "./vm/vm-space.ts";
import {
  ENTRY_STACK,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SIGCODE_ADDR,
  STACK_SIZE,
  STACK_TOP,
} from "./vm/vm-types.ts";

/** Where console output goes. */
export interface ConsoleSink {
  write(bytes: Uint8Array): void;
}

export interface KernelOptions {
  /** Simulated CPUs, 1..64 (default 1). */
  cpus?: number;
  /** PRNG seed, a u32 (default 1). */
  seed?: number;
  /** Instructions per scheduling round on each CPU (default 10_000). */
  quantum?: number;
  /** Console output (default: discarded). */
  console?: ConsoleSink;
  /** Scripted tty input: events, or the text of an input script (see `parseInputScript`). */
  input?: readonly InputEvent[] | string;
  /**
   * A real terminal feeds `ttyInput` while the kernel runs: when nothing can run, `run` waits
   * for input instead of reporting a deadlock (until `closeInput`).
   */
  liveInput?: boolean;
  /** Where sys_checkpoint(FREEZE, -1) and SIGCKPT write images (default: none; see CHECKPOINT.md). */
  checkpointTarget?: CheckpointTarget;
  /** Host files imported read-only into the VFS: guest path → bytes. */
  files?: Readonly<Record<string, Uint8Array>> | ReadonlyMap<string, Uint8Array>;
  /** Native programs by path (e.g. "/boot/vkernel"). */
  natives?: Readonly<Record<string, NativeProgram>>;
  /** Extra device nodes (e.g. tap devices): [path, node]. */
  devices?: Iterable<readonly [string, DeviceNode]>;
  /**
   * Network: the bridges tap devices plug into. The kernel mounts `/dev/tap0..N-1` and `/dev/tap`
   * (clone) for them, delivers frames at round boundaries, and skips idle time to the next frame.
   * `interfaces`: the kernel's own network interfaces (for guest sockets), each a port on one of
   * these bridges (NETWORK.md "Sockets").
   */
  network?: { bridges: BridgeRegistry; taps?: number; interfaces?: readonly BridgeNetifOptions[] };
  /**
   * More network interfaces for guest sockets, with their own drivers (a vkernel's vke): each
   * calls `kernel.netifReceive(index, frame)` with what it receives. Indexes follow
   * `network.interfaces`.
   */
  netifs?: readonly Netif[];
  /** CLOCK_REALTIME at virtual time 0, in seconds since 1970 (default 2011-07-15T00:00:00Z). */
  realtimeEpoch?: number;
  /** The console's initial window size (default 24 x 80); a host terminal's, for example. */
  winsize?: { rows: number; cols: number };
  /**
   * The platform's way to run user code of one LWP over an address space (default: the
   * machine's interpreter, `new Hart(vm)`). A vkernel platform can bring its own.
   */
  createHart?: (vm: VmSpace) => LwpHart;
  /** Called when a process exits (becomes a zombie, before any reaping): a platform's hook. */
  onProcessExit?: (pid: number) => void;
}

/** A program for `spawnImage`: what an ELF loader produces. */
export interface ProgramSegment {
  readonly vaddr: number;
  readonly memsz: number;
  /** File bytes (filesz <= memsz; the rest is zero). */
  readonly data: Uint8Array;
  /** PROT_* bits. */
  readonly prot: number;
}

export interface ProgramImage {
  readonly entry: number;
  readonly segments: readonly ProgramSegment[];
  /** Where the program headers are mapped (AT_PHDR), their entry size and count. */
  readonly phdr?: { readonly addr: number; readonly entsize: number; readonly count: number };
}

export interface SpawnOptions {
  path: string;
  /** ELF bytes (default: the VFS file at `path`). Ignored for native programs. */
  elf?: Uint8Array;
  argv?: readonly string[];
  envp?: readonly string[];
  /** Make the new process the tty's foreground process group (default true). */
  foreground?: boolean;
}

export interface RunOptions {
  /** Stop after this many more instructions (all CPUs together): reason "limit". */
  maxInstructions?: number;
  /** Stop when the kernel's total instruction count reaches this value: reason "stopped". */
  stopAt?: number;
}

export type RunReason = "exited" | "stopped" | "deadlock" | "limit";

export interface RunResult {
  reason: RunReason;
  /** Exit status of the first spawned process (null while it is alive). */
  exitStatus: number | null;
  /** Instructions retired by all CPUs since the kernel started. */
  instructions: number;
  /** Virtual time (ns) at the end of the run. */
  time: number;
  /** SHA-256 (hex) over every process's registers, memory pages and descriptors. */
  digest: string;
  /** For "deadlock": every LWP that can no longer run and why (sleeping on a channel, stopped). */
  blocked?: { pid: number; tid: number; state: string; wchan: string | null }[];
}

/** The sigcode page: `li a7, 139; ecall` (addi x17, x0, 139; ecall). */
const SIGCODE = new Uint32Array([(139 << 20) | (17 << 7) | 0x13, 0x73]);
/**
 * Cooperative yield to the event loop after this many instructions or slices, or this much wall
 * time, whichever comes first. The time bound keeps background work responsive whatever the
 * guest does: a pre-copy round, a lazy restore's background loading and the store writes under
 * them each take several trips through the event loop, and a batch of 2M slow instructions
 * (a guest faulting in fresh memory) can take 100 ms. Virtual time does not move either way.
 */
const YIELD_INSTRUCTIONS = 2_000_000;
const YIELD_SLICES = 512;
const YIELD_MS = 4;
const DEFAULT_EPOCH = Date.UTC(2011, 6, 15) / 1000;

type StepOutcome = RunReason | "wait-input" | null;

/**
 * The kernel: processes, LWPs, the scheduler and the run loop over a VFS, the console tty and
 * native programs. Every piece of state is a plain field, so a checkpoint can save it.
 */
export class Kernel implements DeviceHost {
  readonly options: KernelOptions;
  readonly sched: Scheduler;
  readonly vfs = new Vfs();
  readonly tty: Tty;
  readonly ids = new VmObjectIds();
  readonly procs = new Map<number, Process>();
  readonly lwps = new Map<number, Lwp>();
  /** Sleep queues: wait channel → tids in FIFO order. */
  readonly sleepQueues = new Map<WaitChannel, number[]>();
  readonly natives: Map<string, NativeProgram>;
  /** Next pid/tid (one number space; never reused). */
  nextId = 1;
  nextPipeId = 1;
  /** Total instructions retired by all CPUs. */
  instructions = 0;
  /** The first process spawned: its exit status is the run's. */
  initPid = 0;
  /** Scripted input not delivered yet, in time order. */
  inputQueue: InputEvent[];
  liveInput: boolean;
  readonly realtimeEpoch: number;
  /** The shared sigcode page object. */
  readonly sigcode: VmObject;
  private readonly consoleSink: ConsoleSink;
  private inputWaiter: (() => void) | null = null;
  /** The network (see KernelOptions.network); null without one. */
  readonly bridges: BridgeRegistry | null = null;
  readonly taps: TapDevices | null = null;
  /** The IPv4/UDP stack: interfaces and bound sockets (src/net). */
  readonly net: NetStack;
  /** The configured checkpoint target (null: FREEZE writes nothing and returns 0). */
  checkpointTarget: CheckpointTarget | null;
  /** Checkpoints to take between slices (src/ckpt/ckpt-service.ts). */
  readonly checkpointRequests: CheckpointRequest[] = [];
  /** Errors of checkpoint writes the guest saw as -EIO (for the host to report). */
  readonly checkpointErrors: unknown[] = [];
  /** Work between batches of slices in `run`: a lazy thaw's page loader (src/ckpt/thaw-lazy.ts). */
  background: { pump(): void } | null = null;

  constructor(options: KernelOptions = {}) {
    this.options = options;
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64)
      throw new KernelOptionError("cpus", `${cpus} is not 1..64`);
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new KernelOptionError("seed", `${seed} is not a u32`);
    }
    const quantum = options.quantum ?? 10_000;
    if (!Number.isInteger(quantum) || quantum < 1)
      throw new KernelOptionError("quantum", `${quantum} is not >= 1`);
    this.sched = new Scheduler(cpus, quantum, seed);
    this.consoleSink = options.console ?? { write: () => {} };
    this.tty = new Tty(this);
    if (options.winsize !== undefined) {
      this.tty.winsize = { rows: options.winsize.rows, cols: options.winsize.cols, xpixel: 0, ypixel: 0 };
    }
    const input = options.input ?? [];
    this.inputQueue = typeof input === "string" ? parseInputScript(input) : [...input];
    this.liveInput = options.liveInput ?? false;
    this.checkpointTarget = options.checkpointTarget ?? null;
    this.realtimeEpoch = options.realtimeEpoch ?? DEFAULT_EPOCH;
    this.natives = new Map(Object.entries(options.natives ?? {}));
    this.vfs.mkdirs("/tmp");
    this.vfs.registerDevice("/dev/tty", this.tty);
    this.vfs.registerDevice("/dev/console", this.tty);
    this.vfs.registerDevice("/dev/null", new NullDevice());
    for (const [path, node] of options.devices ?? []) this.vfs.registerDevice(path, node);
    if (options.network) {
      this.bridges = options.network.bridges;
      this.taps = new TapDevices(this.bridges);
      for (const [path, node] of this.taps.devNodes(options.network.taps))
        this.vfs.registerDevice(path, node);
    }
    this.net = new NetStack(this);
    attachNetifs(this.net, this, this.bridges, options.network?.interfaces ?? [], options.netifs ?? []);
    const files = options.files ?? {};
    const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
    for (const [path, bytes] of entries) this.vfs.writeFile(path, bytes as Uint8Array, true);
    this.sigcode = new VmObject(this.ids.take(), "anon", 1);
    const page = this.sigcode.pageForWrite(0);
    page.set(new Uint8Array(SIGCODE.buffer));
    this.sigcode.dirty.clear();
    this.sigcode.refs = 1; // the kernel's own reference: unmapping it everywhere never frees it
  }

  // ---- DeviceHost ------------------------------------------------------------------------------

  /** Virtual time (ns) on the CPU whose turn it is. */
  now(): number {
    return this.sched.now(this.sched.cursor);
  }

  consoleWrite(bytes: Uint8Array): void {
    this.consoleSink.write(bytes);
  }

  wakeup(chan: WaitChannel): void {
    this.wakeupCount(chan, 0);
  }

  /** Wake up to `count` sleepers on `chan` (0 = all), FIFO; returns how many. */
  wakeupCount(chan: WaitChannel, count: number): number {
    const queue = this.sleepQueues.get(chan);
    if (queue === undefined) return 0;
    const n = count === 0 ? queue.length : Math.min(count, queue.length);
    const woken = queue.splice(0, n);
    if (queue.length === 0) this.sleepQueues.delete(chan);
    for (const tid of woken) {
      const lwp = this.lwps.get(tid);
      if (lwp !== undefined) this.endSleep(lwp, "wakeup");
    }
    return woken.length;
  }

  /**
   * Post `sig` to every process of group `pgid` (from a tool, outside a slice). A run waiting for
   * live input wakes up, so a handler can run even when every LWP was asleep.
   */
  signalProcessGroup(pgid: number, sig: number): void {
    for (const p of this.procs.values()) if (p.pgid === pgid) this.postSignal(p, sig, kernelInfo(sig));
    this.inputWaiter?.();
  }

  /** Post `sig` to process `pid` (from a tool, outside a slice); wakes a run waiting for input. */
  signalProcess(pid: number, sig: number): void {
    const p = this.procs.get(pid);
    if (p !== undefined) this.postSignal(p, sig, kernelInfo(sig));
    this.inputWaiter?.();
  }

  /** A frame received by interface `index` (call between slices, never from inside one). */
  netifReceive(index: number, frame: Uint8Array): void {
    this.net.receive(index, frame);
  }

  // ---- signals (the kernel side of src/signal) -------------------------------------------------

  postSignal(proc: Process, sig: number, info: SigInfo): boolean {
    return postToProcess(this, proc, sig, info);
  }

  postSignalLwp(lwp: Lwp, sig: number, info: SigInfo): boolean {
    return postToLwp(this, lwp, sig, info);
  }

  interruptSleep(lwp: Lwp): void {
    if (lwp.state !== "sleeping") return;
    this.removeFromSleepQueue(lwp);
    lwp.interrupted = lwp.sleepMode;
    if (lwp.sleepMode === "nanosleep" && lwp.deadline !== null && lwp.syscall !== null) {
      writeNanosleepRemainder(lwp, lwp.deadline - this.now());
    }
    lwp.wchan = null;
    lwp.deadline = null;
    lwp.syscall = null;
    this.makeRunnable(lwp);
  }

  continueProcess(proc: Process): void {
    for (const l of proc.lwps) if (l.state === "stopped") this.makeRunnable(l);
  }

  stopProcess(proc: Process): void {
    proc.stopped = true;
    for (const l of proc.lwps) {
      if (l.state === "runnable") {
        l.state = "stopped";
        this.sched.remove(l.tid);
      }
    }
  }

  // ---- LWP states -------------------------------------------------------------------------------

  makeRunnable(lwp: Lwp): void {
    if (lwp.state === "zombie") return;
    if (lwp.proc.stopped) {
      lwp.state = "stopped";
      return;
    }
    lwp.state = "runnable";
    this.sched.enqueue(lwp.tid, lwp.cpu);
  }

  private removeFromSleepQueue(lwp: Lwp): void {
    if (lwp.wchan === null) return;
    const q = this.sleepQueues.get(lwp.wchan);
    if (q === undefined) return;
    const i = q.indexOf(lwp.tid);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) this.sleepQueues.delete(lwp.wchan);
  }

  /** End a sleep by a wakeup or the deadline, completing the call as its mode says. */
  private endSleep(lwp: Lwp, why: "wakeup" | "timeout"): void {
    if (lwp.state !== "sleeping") return;
    this.removeFromSleepQueue(lwp);
    const h = lwp.hart;
    if (lwp.sleepMode === "umtx") {
      h.x[10] = why === "wakeup" ? 0 : -ETIMEDOUT;
      h.pc = (h.pc + 4) >>> 0;
    } else if (lwp.sleepMode === "nanosleep") {
      if (why === "timeout") {
        h.x[10] = 0;
        h.pc = (h.pc + 4) >>> 0;
      }
    } else if (why === "timeout") {
      lwp.timedOut = true;
    }
    lwp.wchan = null;
    lwp.deadline = null;
    lwp.syscall = null;
    this.makeRunnable(lwp);
  }

  /** Put `lwp` to sleep for a syscall, unless a signal is already deliverable. */
  private sleep(lwp: Lwp, chan: WaitChannel | null, deadline: number | null, mode: Lwp["sleepMode"]): void {
    const deliverable = (lwp.pending | lwp.proc.pending) & ~(lwp.sigmask & ~CANTMASK);
    if (deliverable !== 0n) {
      lwp.interrupted = mode;
      return;
    }
    lwp.state = "sleeping";
    lwp.sleepMode = mode;
    lwp.wchan = chan;
    lwp.deadline = deadline;
    if (chan !== null) {
      const q = this.sleepQueues.get(chan);
      if (q === undefined) this.sleepQueues.set(chan, [lwp.tid]);
      else q.push(lwp.tid);
    }
    this.sched.remove(lwp.tid);
  }

  /** End one LWP (exit 93). The last one ends the process with `code`. */
  exitLwp(lwp: Lwp, code: number): void {
    this.reapLwp(lwp);
    if (lwp.proc.liveLwps().length === 0) this.exitProcess(lwp.proc, code & 0xff);
  }

  private reapLwp(lwp: Lwp): void {
    if (lwp.state === "zombie") return;
    if (lwp.state === "sleeping") this.removeFromSleepQueue(lwp);
    lwp.state = "zombie";
    lwp.wchan = null;
    lwp.deadline = null;
    lwp.syscall = null;
    this.sched.remove(lwp.tid);
    lwp.proc.vm.reservations.clear(lwp.hart);
    if (lwp.tidAddr !== 0 && lwp.proc.state === "alive") {
      if (lwp.proc.vm.writeU32(lwp.tidAddr, 0) === 0) {
        const chan = this.umtxChannel(lwp.proc, lwp.tidAddr);
        if (chan !== null) this.wakeupCount(chan, 0);
      }
    }
  }

  /**
   * End a whole process with a shell-style status (code, or 128+signal; `signal` is the killing
   * signal, 0 for an exit). It becomes a zombie keeping its status (and memory) until its parent
   * reaps it (waitid); its children go to init, or are auto-reaped when there is no live init; the
   * parent's waiters wake first, then it gets SIGCHLD (so a waitid that a SIGCHLD handler
   * interrupts restarts and finds the zombie, as on Linux).
   */
  exitProcess(proc: Process, status: number, signal = 0): void {
    if (proc.state === "zombie") return;
    for (const l of proc.lwps) this.reapLwp(l);
    proc.state = "zombie";
    proc.stopped = false;
    proc.exitStatus = status;
    proc.exitSignal = signal;
    proc.fds.closeAll();
    this.reparentChildren(proc);
    this.options.onProcessExit?.(proc.pid);
    if (proc.autoReap) {
      this.reapProcess(proc);
      return;
    }
    // No live parent (a spawned process, ppid 0, or a thawed one whose parent is elsewhere):
    // it stays a zombie, so `run()` reports its status.
    const parent = this.procs.get(proc.ppid);
    if (parent === undefined || parent.state !== "alive") return;
    // POSIX: a parent ignoring SIGCHLD (SIG_IGN or SA_NOCLDWAIT) leaves no zombies.
    if (noChildWait(parent)) this.reapProcess(proc);
    this.wakeup(waitChannel(parent.pid));
    const code = signal === 0 ? CLD_EXITED : CLD_KILLED;
    const info = {
      signo: SIGCHLD,
      code,
      addr: 0,
      pid: proc.pid,
      uid: proc.cred.uid,
      status: signal || status,
    };
    this.postSignal(parent, SIGCHLD, info);
  }

  /** Children of an exiting process go to init (alive, not `proc`), else become auto-reaped. */
  private reparentChildren(proc: Process): void {
    const init = this.procs.get(this.initPid);
    const adopter = init !== undefined && init !== proc && init.state === "alive" ? init : null;
    for (const child of [...this.procs.values()]) {
      if (child.ppid !== proc.pid || child === proc) continue;
      if (adopter !== null) {
        child.ppid = adopter.pid;
        if (child.state === "zombie") this.wakeup(waitChannel(adopter.pid));
      } else {
        child.ppid = 0;
        child.autoReap = true;
        if (child.state === "zombie") this.reapProcess(child);
      }
    }
  }

  /** Remove a zombie for good (waitid, or an orphan nobody can reap): its LWPs, memory, pid. */
  reapProcess(proc: Process): void {
    if (proc.state !== "zombie") return;
    for (const l of proc.lwps) this.lwps.delete(l.tid);
    proc.vm.destroy();
    this.procs.delete(proc.pid);
  }

  /** The umtx wait channel of a user address: the backing object and offset (so shared memory works). */
  umtxChannel(proc: Process, addr: number): WaitChannel | null {
    const e = proc.vm.lookup(addr >>> 0);
    if (e === undefined) return null;
    return `umtx:${e.object.id}:${e.offset + ((addr >>> 0) - e.start)}`;
  }

  // ---- processes -------------------------------------------------------------------------------

  private newProcess(
    path: string,
    argv: readonly string[],
    envp: readonly string[],
    foreground: boolean,
  ): Process {
    const pid = this.nextId++;
    const vm = new VmSpace(this.ids);
    vm.mapKernelFixed(SIGCODE_ADDR, 4096, PROT_READ | PROT_EXEC, this.sigcode);
    const fds = new FdTable();
    const console = newOpenFile(this.tty, O_RDWR);
    for (let fd = 0; fd < 3; fd++) fds.installAt(fd, console, false);
    const proc = new Process(pid, 0, pid, pid, [...argv], [...envp], fds, vm, path);
    this.procs.set(pid, proc);
    if (this.initPid === 0) this.initPid = pid;
    if (foreground || this.tty.pgrp === 0) this.tty.pgrp = pid;
    return proc;
  }

  /** A hart for user code over `vm` (the `createHart` option, or the interpreter). */
  createHart(vm: VmSpace): LwpHart {
    return this.options.createHart?.(vm) ?? new Hart(vm);
  }

  /** Create an LWP in `proc` running on `hart`; the main LWP's tid is the pid. */
  addLwp(proc: Process, hart: LwpHart, tid: number = this.nextId++, cpu?: number): Lwp {
    // A thaw passes the saved CPU, so rebuilding LWPs does not draw from the PRNG.
    const ncpus = this.sched.cpus.length;
    const lwp = new Lwp(tid, proc, hart, cpu === undefined ? this.sched.chooseCpu() : cpu % ncpus);
    proc.lwps.push(lwp);
    this.lwps.set(tid, lwp);
    this.makeRunnable(lwp);
    return lwp;
  }

  /** Start a program: a native program registered at `path`, or an ELF. Returns the pid. */
  spawn(opts: SpawnOptions): number {
    const native = this.natives.get(opts.path);
    if (native !== undefined) return this.spawnNative(opts, native);
    const elf = opts.elf ?? this.vfs.readFile(opts.path);
    if (elf === undefined) throw new SpawnError(opts.path, "no such file and no ELF bytes given");
    return this.spawnElf(opts, elf);
  }

  private spawnElf(opts: SpawnOptions, elf: Uint8Array): number {
    let image: LoadedElf;
    try {
      image = loadElfImage(elf);
    } catch (cause) {
      throw new SpawnError(opts.path, cause instanceof Error ? cause.message : String(cause), { cause });
    }
    return this.spawnImage(opts, image.image, image.hash);
  }

  /** Start a program from an already-loaded image (ELF loaders and tests). */
  spawnImage(opts: SpawnOptions, image: ProgramImage, exeHash = ""): number {
    const argv = opts.argv ?? [opts.path];
    const envp = opts.envp ?? [];
    const proc = this.newProcess(opts.path, argv, envp, opts.foreground ?? true);
    proc.exeHash = exeHash;
    const vm = proc.vm;
    let brk = 0;
    for (const seg of image.segments) {
      const start = Math.floor(seg.vaddr / 4096) * 4096;
      const end = Math.ceil((seg.vaddr + seg.memsz) / 4096) * 4096;
      const r = vm.map({ addr: start, len: end - start, prot: seg.prot, flags: 0, fixed: true });
      if (r < 0) {
        this.discard(proc);
        throw new SpawnError(opts.path, `segment at 0x${seg.vaddr.toString(16)} cannot be mapped (${r})`);
      }
      if (seg.data.length > 0) vm.poke(seg.vaddr, seg.data);
      brk = Math.max(brk, end);
    }
    vm.brkBase = brk;
    vm.brk = brk;
    vm.map({
      addr: STACK_TOP - STACK_SIZE,
      len: STACK_SIZE,
      prot: PROT_READ | PROT_WRITE,
      flags: ENTRY_STACK,
      fixed: true,
    });
    let sp: number;
    try {
      sp = buildStack(vm, argv, envp, image, this.sched.prng);
    } catch (cause) {
      this.discard(proc);
      throw new SpawnError(opts.path, cause instanceof Error ? cause.message : String(cause), { cause });
    }
    const hart = this.createHart(vm);
    hart.pc = image.entry >>> 0;
    hart.x[2] = sp | 0;
    this.addLwp(proc, hart, proc.pid);
    return proc.pid;
  }

  private spawnNative(opts: SpawnOptions, program: NativeProgram): number {
    const proc = this.newProcess(
      opts.path,
      opts.argv ?? [opts.path],
      opts.envp ?? [],
      opts.foreground ?? true,
    );
    proc.exeHash = `native:${opts.path}`;
    this.addNativeThread(
      proc,
      program,
      program.main,
      structuredClone(program.initialState ?? null),
      0,
      proc.pid,
    );
    return proc.pid;
  }

  /** Start a native thread in `proc` with role `role`. */
  addNativeThread(
    proc: Process,
    program: NativeProgram,
    role: string,
    state: NativeState,
    arg: number,
    tid: number = this.nextId++,
  ): Lwp {
    const hart = new NativeHart(program, { role, state, result: arg }, { pid: proc.pid, tid, vm: proc.vm });
    return this.addLwp(proc, hart, tid);
  }

  private discard(proc: Process): void {
    proc.fds.closeAll();
    proc.vm.destroy();
    this.procs.delete(proc.pid);
    if (this.initPid === proc.pid) this.initPid = 0;
    if (this.tty.pgrp === proc.pgid) this.tty.pgrp = 0;
  }

  // ---- tty input -------------------------------------------------------------------------------

  /** Bytes typed on a live terminal: they reach the tty now (at the current virtual time). */
  ttyInput(bytes: Uint8Array): void {
    this.tty.input(bytes);
    this.inputWaiter?.();
  }

  /** The live terminal is gone: a run with nothing to do ends as a deadlock again. */
  closeInput(): void {
    this.liveInput = false;
    this.inputWaiter?.();
  }

  private deliverInputUntil(time: number): void {
    while (this.inputQueue.length > 0 && (this.inputQueue[0] as InputEvent).at <= time) {
      const ev = this.inputQueue.shift() as InputEvent;
      if ("bytes" in ev) this.tty.input(ev.bytes);
      else this.tty.setWinsize({ ...this.tty.winsize, rows: ev.winsize.rows, cols: ev.winsize.cols });
    }
  }

  // ---- the run loop ----------------------------------------------------------------------------

  /**
   * Run until every process has exited, `stopAt`/`maxInstructions` is reached, or nothing can
   * ever run again (deadlock). Slices run synchronously; the loop yields to the event loop
   * between batches (virtual time does not move while it waits).
   */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    const limit = opts.maxInstructions === undefined ? Infinity : this.instructions + opts.maxInstructions;
    const stopAt = opts.stopAt ?? Infinity;
    for (;;) {
      const startInstr = this.instructions;
      const deadline = performance.now() + YIELD_MS;
      let outcome: StepOutcome = null;
      for (let i = 0; i < YIELD_SLICES && this.instructions - startInstr < YIELD_INSTRUCTIONS; i++) {
        outcome = this.step(limit, stopAt);
        if (outcome !== null || this.checkpointRequests.length > 0) break;
        if ((i & 7) === 7 && performance.now() >= deadline) break;
      }
      this.background?.pump();
      if (this.checkpointRequests.length > 0) await serviceCheckpoints(this);
      if (outcome === "wait-input") {
        await Promise.race([
          new Promise<void>((resolve) => {
            this.inputWaiter = resolve;
          }),
          ...(this.bridges?.hasLivePorts() ? [this.bridges.waitForLiveInput()] : []),
        ]);
        this.inputWaiter = null;
      } else if (outcome !== null) {
        if (outcome === "exited") flushBridges(this.bridges, this.now());
        return this.result(outcome);
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Run synchronously (tests and tools that need no I/O). */
  runSync(opts: RunOptions = {}): RunResult {
    const limit = opts.maxInstructions === undefined ? Infinity : this.instructions + opts.maxInstructions;
    const stopAt = opts.stopAt ?? Infinity;
    for (;;) {
      const outcome = this.step(limit, stopAt);
      if (this.checkpointRequests.length > 0) failCheckpoints(this);
      if (outcome === "wait-input") return this.result("deadlock");
      if (outcome === "exited") flushBridges(this.bridges, this.now());
      if (outcome !== null) return this.result(outcome);
    }
  }

  result(reason: RunReason): RunResult {
    const init = this.procs.get(this.initPid);
    return {
      reason,
      exitStatus: init?.exitStatus ?? null,
      instructions: this.instructions,
      time: this.now(),
      digest: computeDigest(this),
      ...(reason === "deadlock" ? { blocked: this.blockedLwps() } : {}),
    };
  }

  /** LWPs of live processes that are sleeping or stopped (what a deadlock is made of). */
  blockedLwps(): { pid: number; tid: number; state: string; wchan: string | null }[] {
    const out: { pid: number; tid: number; state: string; wchan: string | null }[] = [];
    for (const l of this.lwps.values()) {
      if (l.proc.state === "alive" && (l.state === "sleeping" || l.state === "stopped")) {
        out.push({ pid: l.proc.pid, tid: l.tid, state: l.state, wchan: l.wchan });
      }
    }
    return out;
  }

  /** A live process keeps the run going, unless it is an orphan that outlived init. */
  private liveProcesses(): boolean {
    for (const p of this.procs.values()) if (p.state === "alive" && !p.autoReap) return true;
    return false;
  }

  /** One slice on the CPU whose turn it is (or the end of its turn). */
  step(limit: number, stopAt: number): StepOutcome {
    if (!this.liveProcesses()) return "exited";
    if (this.instructions >= stopAt) return "stopped";
    if (this.instructions >= limit) return "limit";
    const sched = this.sched;
    const cpu = sched.cpu;
    if (cpu.used >= sched.quantum) return this.endTurn();
    let tid = cpu.current;
    if (tid === null) {
      tid = sched.dequeue(cpu);
      if (tid === null) {
        cpu.used = sched.quantum;
        return this.endTurn();
      }
      cpu.current = tid;
    }
    const lwp = this.lwps.get(tid);
    if (lwp === undefined || lwp.state !== "runnable") {
      cpu.current = null;
      return null;
    }
    lwp.cpu = cpu.id;
    const outcome = deliverSignals(this, lwp);
    if (outcome !== "run" || lwp.state !== "runnable") {
      if (cpu.current === tid) cpu.current = null;
      return null;
    }
    const budget = Math.min(sched.quantum - cpu.used, limit - this.instructions, stopAt - this.instructions);
    const stop = lwp.hart.run(budget);
    const retired = lwp.hart.retired;
    cpu.used += retired;
    this.instructions += retired;
    switch (stop) {
      case Stop.Budget:
        if (cpu.used >= sched.quantum) this.preempt(lwp);
        break;
      case Stop.Ecall:
        this.syscall(lwp);
        break;
      case Stop.Yield:
        this.preempt(lwp);
        break;
      case Stop.Ebreak:
        this.fault(lwp, SIGTRAP, TRAP_BRKPT, lwp.hart.pc);
        break;
      case Stop.Illegal:
        this.fault(lwp, SIGILL, ILL_ILLOPC, lwp.hart.pc);
        break;
      case Stop.Misaligned:
        this.fault(lwp, SIGBUS, BUS_ADRALN, lwp.hart.trapValue);
        break;
      case Stop.MemoryFault: {
        const f = lwp.hart.fault;
        if (f === Fault.BusError) this.fault(lwp, SIGBUS, BUS_ADRERR, lwp.hart.trapValue);
        else
          this.fault(lwp, SIGSEGV, f === Fault.AccessError ? SEGV_ACCERR : SEGV_MAPERR, lwp.hart.trapValue);
        break;
      }
      default:
        // A stop this kernel does not know: treat it as an illegal instruction, never spin.
        this.fault(lwp, SIGILL, ILL_ILLOPC, lwp.hart.pc);
        break;
    }
    if (lwp.state !== "runnable" && cpu.current === tid) cpu.current = null;
    return null;
  }

  /** Send the running LWP to the tail of its CPU's queue. */
  preempt(lwp: Lwp): void {
    const cpu = this.sched.cpus[lwp.cpu];
    if (cpu !== undefined && cpu.current === lwp.tid) cpu.current = null;
    this.sched.enqueue(lwp.tid, lwp.cpu);
  }

  private fault(lwp: Lwp, sig: number, code: number, addr: number): void {
    forceSignal(this, lwp, sig, { signo: sig, code, addr: addr >>> 0, pid: 0, uid: 0 });
  }

  /** The CPU whose turn it was is done for this round. */
  private endTurn(): StepOutcome {
    if (!this.sched.advanceCursor()) return null;
    return this.roundEnded();
  }

  /** Timers and scripted input due by the new round's start; skip idle time; detect deadlock. */
  private roundEnded(): StepOutcome {
    const now = this.sched.roundStart;
    this.fireTimers(now);
    this.deliverInputUntil(now);
    this.bridges?.poll(now);
    if (this.sched.anyRunnable() || !this.liveProcesses()) return null;
    let next = Infinity;
    for (const l of this.lwps.values())
      if (l.state === "sleeping" && l.deadline !== null) next = Math.min(next, l.deadline);
    const input = this.inputQueue[0];
    if (input !== undefined) next = Math.min(next, input.at);
    next = Math.min(next, this.bridges?.nextEventTime() ?? Infinity);
    if (next !== Infinity) {
      if (next > now) this.sched.roundStart = next;
      this.fireTimers(this.sched.roundStart);
      this.deliverInputUntil(this.sched.roundStart);
      this.bridges?.poll(this.sched.roundStart);
      return null;
    }
    return this.liveInput || this.bridges?.hasLivePorts() ? "wait-input" : "deadlock";
  }

  private fireTimers(now: number): void {
    for (const l of this.lwps.values()) {
      if (l.state === "sleeping" && l.deadline !== null && l.deadline <= now) this.endSleep(l, "timeout");
    }
  }

  // ---- syscalls --------------------------------------------------------------------------------

  private syscall(lwp: Lwp): void {
    const h = lwp.hart;
    const nr = h.x[17]! >>> 0;
    const args = [
      h.x[10]! >>> 0,
      h.x[11]! >>> 0,
      h.x[12]! >>> 0,
      h.x[13]! >>> 0,
      h.x[14]! >>> 0,
      h.x[15]! >>> 0,
    ];
    const handler = syscallTable.get(nr);
    const r: SyscallResult = handler === undefined ? -ENOSYS : handler(this, lwp, args);
    lwp.timedOut = false;
    if (lwp.state === "zombie" || r === JUSTRETURN) return;
    if (typeof r === "number") {
      h.x[10] = r | 0;
      h.pc = (h.pc + 4) >>> 0;
      return;
    }
    lwp.syscall = { nr, args };
    this.sleep(lwp, r.sleep, r.deadline, r.mode);
  }

  /** What a file method sees of the calling LWP. */
  caller(lwp: Lwp): FileCaller {
    const proc = lwp.proc;
    return {
      pid: proc.pid,
      tid: lwp.tid,
      pgid: proc.pgid,
      sid: proc.sid,
      timedOut: lwp.timedOut,
      copyin: (addr, len) => proc.vm.copyin(addr, len),
      copyout: (addr, bytes) => proc.vm.copyout(addr, bytes),
    };
  }

  /** True if a signal would be discarded for `proc` (exposed for the syscall layer). */
  signalIgnored(proc: Process, sig: number): boolean {
    return signalIgnored(proc, sig);
  }
}

/** clock_nanosleep(clock, flags, req, rem): a relative sleep ended early reports what was left in `rem`. */
function writeNanosleepRemainder(lwp: Lwp, left: number): void {
  const [, flags, , rem] = lwp.syscall?.args ?? [];
  if (rem === undefined || rem === 0 || ((flags ?? 0) & 1) !== 0) return;
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  const ns = Math.max(0, left);
  v.setBigInt64(0, BigInt(Math.floor(ns / 1e9)), true);
  v.setBigInt64(8, BigInt(ns % 1e9), true);
  lwp.proc.vm.copyout(rem, b);
}

function kernelInfo(sig: number): SigInfo {
  return { signo: sig, code: SI_KERNEL, addr: 0, pid: 0, uid: 0 };
}

export function createKernel(options: KernelOptions = {}): Kernel {
  return new Kernel(options);
}
