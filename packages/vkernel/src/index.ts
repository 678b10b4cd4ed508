export {
  createVkernelSliceProgram,
  SLICE_GUEST_ID,
  VKERNEL_PANIC_STATUS,
  type VkernelSliceConfig,
} from "./boot-program.ts";
export { GuestLoadError, PhysAccessError, PhysExhaustedError, VkernelError } from "./errors.ts";
export { type GuestLoadRequest, type LoadedGuest, loadGuest } from "./guest-loader.ts";
export * from "./memimage-layout.ts";
export { arrayPhysMemory, PhysAllocator, type PhysMemory, vmPhysMemory } from "./phys-memory.ts";
export { copyinGuest, copyoutGuestKernel, pteFlags, Sv32Pmap } from "./pmap-sv32.ts";
