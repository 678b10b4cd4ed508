import { Access, PAGE_MASK } from "../cpu/cpu-types.ts";
import type { Kernel } from "../kernel.ts";
import type { Lwp, Process } from "../proc/proc-types.ts";
import type { VmObject } from "../vm/vm-object.ts";
import type { MapRequest, VmSpace } from "../vm/vm-space.ts";
import {
  ENTRY_SHARED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_TYPE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../vm/vm-types.ts";
import {
  GuestVmspaceTable,
  invalidateGuestRange,
  MADV_INVAL,
  MADV_SETMAP,
  MAP_VPAGETABLE,
  VMSPACE_CTL_RUN,
} from "../vm/vmspace-guest.ts";
import {
  FRAME_BUDGET,
  FRAME_FLAGS,
  FRAME_RETIRED,
  GUEST_FRAME_SIZE,
  loadGuestFrame,
  storeGuestFrame,
  VMFRAME_SAME_CONTEXT,
  VMFRAME_TAGGED,
} from "../vm/vmspace-guest-frame.ts";
import { runGuest } from "../vm/vmspace-guest-run.ts";
import { EEXIST, EFAULT, EINVAL, ENOENT, ENOMEM } from "./errno.ts";
import type { SyscallArgs, SyscallResult } from "./syscall-types.ts";

/**
 * DragonFly's vmspace_* calls (510-515), the host side of the vkernel: see KERNEL.md
 * "Guest vmspaces". The table of a process is made on its first vmspace_create.
 */

const PAGE = 4096;

function table(k: Kernel, proc: Process): GuestVmspaceTable {
  proc.vkernel ??= new GuestVmspaceTable(k.ids);
  return proc.vkernel;
}

function space(proc: Process, id: number): VmSpace | undefined {
  return proc.vkernel?.get(id);
}

/** vmspace_create(id, type, data) → 0; -EEXIST if `id` is taken. `type` and `data` are ignored. */
export function sys_vmspace_create(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const r = table(k, lwp.proc).create(a[0] as number);
  if (r === "exists") return -EEXIST;
  if (r === "full") return -ENOMEM;
  return 0;
}

/** vmspace_destroy(id) → 0; -ENOENT if there is no such vmspace. */
export function sys_vmspace_destroy(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  return lwp.proc.vkernel?.destroy(a[0] as number) === true ? 0 : -ENOENT;
}

/**
 * vmspace_mmap(id, addr, len, prot, flags, src) → guest address. With MAP_ANONYMOUS a fresh
 * object; otherwise MAP_SHARED of the caller's own memory at `src` (a shared mapping of it, e.g.
 * memimage): the guest entry maps that same object. With MAP_VPAGETABLE the entry translates
 * through Sv32 tables in the object (physical address = byte offset in the object, so `src` only
 * names the object); without it, object pages map directly from `src`'s offset.
 */
export function sys_vmspace_mmap(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [id, addr, len, prot, flags, src] = a as [number, number, number, number, number, number];
  const vm = space(lwp.proc, id);
  if (vm === undefined) return -ENOENT;
  if (len === 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE) return -EINVAL;
  const fixed = (flags & MAP_FIXED) !== 0;
  if (fixed && addr % PAGE !== 0) return -EINVAL;
  const vpagetable = (flags & MAP_VPAGETABLE) !== 0;
  const req: MapRequest = {
    addr,
    len,
    prot,
    flags: type === MAP_SHARED ? ENTRY_SHARED : 0,
    fixed,
    type: vpagetable ? "vpagetable" : "normal",
  };
  if ((flags & MAP_ANONYMOUS) !== 0) return vpagetable ? -EINVAL : vm.map(req);
  if (type !== MAP_SHARED) return -EINVAL;
  const shared = sharedObjectAt(lwp.proc, src);
  if (typeof shared === "number") return shared;
  if (vpagetable) return vm.map({ ...req, object: shared.object, offset: 0 });
  if (src % PAGE !== 0) return -EINVAL;
  return vm.map({ ...req, object: shared.object, offset: shared.offset });
}

/** The shared object behind the caller's address `src` and its offset there, or -errno. */
function sharedObjectAt(proc: Process, src: number): { object: VmObject; offset: number } | number {
  const e = proc.vm.lookup(src >>> 0);
  if (e === undefined) return -EFAULT;
  if ((e.flags & ENTRY_SHARED) === 0 || e.object.kind !== "anon") return -EINVAL;
  return { object: e.object, offset: e.offset + ((src >>> 0) - e.start) };
}

/**
 * The frame's bytes for reading and writing: the caller's page itself when the frame lies in one
 * page (checked writable, marked dirty: no copies on the hot path), else a copy written back with
 * copyout after the run. -EFAULT if any of it is not readable and writable.
 */
function mapFrame(
  vm: VmSpace,
  addr: number,
): { bytes: Uint8Array; offset: number; direct: boolean } | number {
  const offset = addr & PAGE_MASK;
  if (offset + GUEST_FRAME_SIZE <= PAGE) {
    const page = vm.translate(addr >>> 0, Access.Write);
    return typeof page === "number" ? -EFAULT : { bytes: page, offset, direct: true };
  }
  const bytes = vm.copyin(addr, GUEST_FRAME_SIZE);
  if (typeof bytes === "number") return bytes;
  // Check the frame is writable before running anything (this copy changes nothing).
  if (vm.copyout(addr, bytes) !== 0) return -EFAULT;
  return { bytes, offset: 0, direct: false };
}

/** vmspace_munmap(id, addr, len) → 0. */
export function sys_vmspace_munmap(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [id, addr, len] = a as [number, number, number];
  const vm = space(lwp.proc, id);
  if (vm === undefined) return -ENOENT;
  if (len === 0 || addr % PAGE !== 0) return -EINVAL;
  return vm.unmap(addr, len);
}

/**
 * vmspace_mcontrol(id, addr, len, behav, value) → 0. MADV_SETMAP: `value` becomes the master
 * PDE of the VPAGETABLE entry at `addr`. MADV_INVAL: drop every cached translation of the guest
 * vmspace and the decoded code of the range (the vkernel calls it after changing a PTE or code
 * in memimage, as DragonFly's pmap does).
 */
export function sys_vmspace_mcontrol(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [id, addr, len, behav, value] = a as [number, number, number, number, number];
  const vm = space(lwp.proc, id);
  if (vm === undefined) return -ENOENT;
  if (behav === MADV_SETMAP) return vm.setMasterPde(addr, value);
  if (behav === MADV_INVAL) {
    invalidateGuestRange(vm, addr, len);
    return 0;
  }
  return -EINVAL;
}

/**
 * vmspace_ctl(id, VMSPACE_CTL_RUN, frame) → a VMTRAP_* cause. Loads the guest registers from the
 * frame, runs the guest on the calling LWP for the frame's budget (at most one quantum, H9; 0 =
 * the rest of its CPU's slice; the instructions it retires are the caller's virtual time, an
 * overrun of the slice is charged to the CPU's next round), and stores the registers and the trap
 * back. The run
 * ends inside this call, so signals reach the caller only after it (in its own context).
 */
export function sys_vmspace_ctl(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [id, cmd, frameAddr] = a as [number, number, number];
  const proc = lwp.proc;
  const vm = space(proc, id);
  if (vm === undefined) return -ENOENT;
  if (cmd !== VMSPACE_CTL_RUN) return -EINVAL;
  const frame = mapFrame(proc.vm, frameAddr);
  if (typeof frame === "number") return frame;
  const hart = table(k, proc).hartFor(lwp.tid, vm);
  loadGuestFrame(hart, frame.bytes, frame.offset);
  // A new guest context holds no LR reservation; frame word 156 bit 0 (H3) says "the same guest
  // context as this LWP's last run": its reservation survives, as it would on a hart of its own.
  const flags = new DataView(frame.bytes.buffer, frame.bytes.byteOffset).getUint32(
    frame.offset + FRAME_FLAGS,
    true,
  );
  const tagKey = (flags & VMFRAME_TAGGED) !== 0 ? contextKey(vm, flags >>> 8) : null;
  if (tagKey !== null) {
    if ((flags & VMFRAME_SAME_CONTEXT) !== 0) hart.mem.reservations.move(tagKey, hart);
    else {
      hart.mem.reservations.clear(tagKey);
      hart.mem.reservations.clear(hart);
    }
  } else if ((flags & VMFRAME_SAME_CONTEXT) === 0) hart.mem.reservations.clear(hart);
  const cpu = k.sched.cpus[lwp.cpu];
  const slice = cpu === undefined ? 0 : k.sched.quantum - cpu.used;
  // Frame word 148 (H3): the caller's own budget, 0 = the rest of the slice.
  const asked = new DataView(frame.bytes.buffer, frame.bytes.byteOffset).getUint32(
    frame.offset + FRAME_BUDGET,
    true,
  );
  // H9: an explicit budget runs in full, up to one quantum, even past the slice; the excess is
  // charged to the CPU's next round (Scheduler.advanceCursor), so a guest quantum is one run.
  const budget = asked === 0 ? slice : Math.min(k.sched.quantum, asked);
  const { trap, retired } = runGuest(hart, budget);
  if (cpu !== undefined) cpu.used += retired;
  k.instructions += retired;
  if (tagKey !== null) hart.mem.reservations.move(hart, tagKey);
  storeGuestFrame(hart, trap, frame.bytes, frame.offset);
  // Frame word 152 (H3): instructions the guest retired in this run.
  new DataView(frame.bytes.buffer, frame.bytes.byteOffset).setUint32(
    frame.offset + FRAME_RETIRED,
    retired,
    true,
  );
  if (frame.direct) proc.vm.reservations.breakOverlapping(frameAddr >>> 0, GUEST_FRAME_SIZE);
  else proc.vm.copyout(frameAddr, frame.bytes);
  // Like a hart that used up its slice: the caller goes to the tail of its CPU's queue.
  if (cpu !== undefined && cpu.used >= k.sched.quantum) k.preempt(lwp);
  return trap.cause;
}

/** Per guest vmspace, the key each VMFRAME_TAGGED context parks its LR reservation under. */
const contextKeys = new WeakMap<VmSpace, Map<number, object>>();

function contextKey(vm: VmSpace, tag: number): object {
  let keys = contextKeys.get(vm);
  if (keys === undefined) {
    keys = new Map();
    contextKeys.set(vm, keys);
  }
  let key = keys.get(tag);
  if (key === undefined) {
    key = { tag };
    keys.set(tag, key);
  }
  return key;
}
