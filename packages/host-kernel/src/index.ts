// network devices (src/dev: bridge, taps, codec)

// freeze/thaw (src/ckpt) and sys_checkpoint
export {
  FreezeError,
  LazyPageError,
  RebuildError,
  ThawExecutableMismatchError,
  ThawExecutableMissingError,
  ThawInvalidImageError,
  ThawReadError,
} from "./ckpt/ckpt-errors.ts";
export {
  type PrecopyOptions,
  type PrecopySession,
  type PrecopyStats,
  startPrecopy,
} from "./ckpt/ckpt-precopy.ts";
export { createStoreTarget, type StoreTarget, type StoreTargetOptions } from "./ckpt/ckpt-target.ts";
export {
  type CheckpointCause,
  type CheckpointRequest,
  type CheckpointTarget,
  type CheckpointWritten,
  CKPT_FREEZE,
  CKPT_THAW,
} from "./ckpt/ckpt-types.ts";
export {
  type DescribeOptions,
  describeKernel,
  KERNEL_DESCRIPTION_VERSION,
  pageBytes,
} from "./ckpt/describe.ts";
export { type FreezeOptions, type FrozenProcess, freezeProcess, type SavedPages } from "./ckpt/freeze.ts";
export { type AdoptPage, adoptPageBytes, type RebuildOptions, rebuildKernel } from "./ckpt/rebuild.ts";
export { type Thawed, type ThawOptions, thawProcess } from "./ckpt/thaw.ts";
export { LazyRestore, type LazyRestoreProgress } from "./ckpt/thaw-lazy.ts";
// the machine (src/cpu) and the ELF loader (src/exec)
export * from "./cpu/cpu-types.ts";
export { invalidateDecodedPage } from "./cpu/decode-cache.ts";
export { Hart, hartDefaults } from "./cpu/hart.ts";
export { type IpsMeasurement, measureIps } from "./cpu/measure-ips.ts";
export {
  Bridge,
  type BridgeAddress,
  type BridgeDelivery,
  type BridgeLink,
  type BridgeOptions,
  type BridgePort,
  type BridgeSnapshot,
  type BridgeStats,
  isValidNetName,
} from "./dev/bridge.ts";
export { BridgeRegistry } from "./dev/bridge-registry.ts";
export { type InputEvent, parseInputScript } from "./dev/input-script.ts";
export {
  type EndpointSnapshot,
  type EndpointStats,
  NetEndpoint,
  type PendingDatagram,
} from "./dev/net-endpoint.ts";
export {
  BridgeError,
  NetAddressError,
  NetDecodeError,
  NetSnapshotError,
  PeerScriptError,
  UdpUplinkError,
} from "./dev/net-errors.ts";
export * as netFrame from "./dev/net-frame.ts";
export * as netIpv4 from "./dev/net-ipv4.ts";
export { NetPeer, type PeerDatagram, type PeerSnapshot } from "./dev/net-peer.ts";
export { type PeerScript, type PeerSend, parsePeerScript, parseVirtualTime } from "./dev/net-peer-script.ts";
export { defaultTapMac, type TapConfig, TapDevice, type TapSnapshot, type TapStats } from "./dev/tap.ts";
export { TapDevices, type TapDevicesOptions } from "./dev/tap-devices.ts";
export { isTapFile, TapFile } from "./dev/tap-file.ts";
export { tapDescriptorImage, tapSnapshotFromImage } from "./dev/tap-image.ts";
export * as tapIoctl from "./dev/tap-ioctl.ts";
export { TTY_INPUT_CHAN, Tty, type Winsize } from "./dev/tty.ts";
export * from "./dev/tty-termios.ts";
export {
  UdpUplink,
  type UdpUplinkOptions,
  type UdpUplinkSnapshot,
  type UplinkClient,
  type UplinkStats,
} from "./dev/udp-uplink.ts";
export * from "./errors.ts";
export {
  DEFAULT_ELF_LIMITS,
  type ElfImage,
  type ElfLimits,
  type ElfSegment,
  EM_RISCV,
  parseElf,
} from "./exec/elf.ts";
export {
  ElfError,
  ElfFormatError,
  ElfLimitError,
  ElfUnsupportedError,
  InitialStackArgumentError,
  InitialStackTooLargeError,
} from "./exec/elf-errors.ts";
export {
  AT_ENTRY,
  AT_NULL,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_RANDOM,
  buildInitialStack,
  type InitialAuxv,
  type InitialStack,
  type InitialStackRequest,
} from "./exec/initial-stack.ts";
export { FD_LIMIT, type FdSlot, FdTable } from "./fs/fd-table.ts";
export * from "./fs/file-types.ts";
export { PIPE_BUF_SIZE, Pipe } from "./fs/pipe.ts";
export { Vfs, type VfsDevice, type VfsDirectory, type VfsNode, type VfsRegular } from "./fs/vfs.ts";
export { GUEST_PROGRAMS, type GuestProgram, guestProgram, guestProgramPath } from "./guest-programs.ts";
export {
  type ConsoleSink,
  createKernel,
  Kernel,
  type KernelOptions,
  type ProgramImage,
  type ProgramSegment,
  type RunOptions,
  type RunReason,
  type RunResult,
  type SpawnOptions,
} from "./kernel.ts";
export { NativeHart } from "./native/native-hart.ts";
export type {
  NativeAction,
  NativeEnv,
  NativeEnvBase,
  NativeProgram,
  NativeState,
  NativeStep,
  NativeThreadContext,
} from "./native/native-types.ts";
export { NATIVE_HANDLER_BASE, NATIVE_STEP_COST, type NativeSignalFrame } from "./native/native-types.ts";
// sockets and network interfaces (src/net; NETWORK.md "Sockets")
export { flushBridges } from "./net/net-attach.ts";
export {
  type DeliverResult,
  EPHEMERAL_FIRST,
  EPHEMERAL_LAST,
  NetStack,
  UDP_MAX_PAYLOAD,
} from "./net/net-stack.ts";
export { IFF_UP, NETIF_STATS_KEYS, type Netif, NetifState, type NetifStats } from "./net/netif.ts";
export { BridgeNetif, type BridgeNetifOptions, defaultNetifMac } from "./net/netif-bridge.ts";
export {
  AF_INET,
  decodeSockaddrIn,
  encodeSockaddrIn,
  SOCKADDR_IN_SIZE,
  type SockaddrIn,
} from "./net/sockaddr.ts";
export {
  isUdpSocket,
  SOCKET_MAX_QUEUE,
  SOCKET_MAX_QUEUE_BYTES,
  type SocketDatagram,
  UdpSocket,
  UNBOUND_CHANNEL,
} from "./net/socket.ts";
export { NetImageError } from "./net/socket-errors.ts";
export {
  netifImage,
  netStackImage,
  rebuildNetif,
  rebuildNetStack,
  rebuildSocket,
  socketDescriptorImage,
  socketImage,
} from "./net/socket-image.ts";
export type { LwpHart } from "./proc/proc-hart.ts";
export { Prng } from "./proc/proc-prng.ts";
export { type Cpu, Scheduler } from "./proc/proc-sched.ts";
export {
  type AltStack,
  Lwp,
  type LwpState,
  Process,
  type SigAction,
  type SigInfo,
} from "./proc/proc-types.ts";
export { type CheckpointSignalAction, onCheckpointSignal } from "./signal/signal-ckpt-hook.ts";
export * as signals from "./signal/signal-numbers.ts";
export * as errno from "./syscall/errno.ts";
export { sys_checkpoint } from "./syscall/sys-ckpt.ts";
// fork and wait (KERNEL.md "Fork and wait")
export {
  CLD_EXITED,
  CLD_KILLED,
  forkProcess,
  P_ALL,
  P_PGID,
  P_PID,
  sys_clone,
  sys_waitid,
  WEXITED,
  WNOHANG,
  WNOWAIT,
  waitChannel,
} from "./syscall/sys-fork.ts";
export {
  encodeVkNetif,
  sys_bind,
  sys_getsockname,
  sys_netif_get,
  sys_netif_set,
  sys_recvfrom,
  sys_sendto,
  sys_socket,
  VK_NETIF_SIZE,
} from "./syscall/sys-net.ts";
// guest vmspaces (vmspace_* 510-515, the host side of the vkernel)
export {
  sys_vmspace_create,
  sys_vmspace_ctl,
  sys_vmspace_destroy,
  sys_vmspace_mcontrol,
  sys_vmspace_mmap,
  sys_vmspace_munmap,
} from "./syscall/sys-vmspace.ts";
export * as syscalls from "./syscall/syscall-numbers.ts";
export { registerSyscall, syscallTable } from "./syscall/syscall-table.ts";
export {
  JUSTRETURN,
  type SleepRequest,
  type SyscallHandler,
  type SyscallResult,
} from "./syscall/syscall-types.ts";
export { type LazyPages, settleLazy } from "./vm/vm-lazy.ts";
export { VmObject, type VmPageBackend, ZERO_PAGE } from "./vm/vm-object.ts";
export {
  type MapRequest,
  PTE_A,
  PTE_D,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
  type VmMapEntry,
  VmObjectIds,
  VmSpace,
} from "./vm/vm-space.ts";
export * from "./vm/vm-types.ts";
export {
  GuestVmspaceTable,
  invalidateGuestRange,
  MADV_INVAL,
  MADV_SETMAP,
  MAP_VPAGETABLE,
  MAX_GUEST_VMSPACES,
  VMSPACE_CTL_RUN,
  VMTRAP_BREAKPOINT,
  VMTRAP_FAULT,
  VMTRAP_ILLEGAL,
  VMTRAP_RESTART,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
} from "./vm/vmspace-guest.ts";
export {
  decodeGuestFrame,
  encodeGuestFrame,
  FRAME_BUDGET,
  FRAME_CAUSE,
  FRAME_CODE,
  FRAME_FLAGS,
  FRAME_PC,
  FRAME_RETIRED,
  FRAME_SIGNO,
  FRAME_VALUE,
  GUEST_FRAME_SIZE,
  type GuestTrap,
  VMFRAME_SAME_CONTEXT,
  VMFRAME_TAGGED,
} from "./vm/vmspace-guest-frame.ts";
