export {
  readVkernelSection,
  VKERNEL_SECTION_VERSION,
  type VkernelImageSection,
  vkernelImageSection,
} from "./ckpt/image-section.ts";
export { VKE_DEFAULT_BRIDGE, type VkeInterface, vkeInterfaces } from "./dev/vke-config.ts";
export {
  PhysAccessError,
  PhysExhaustedError,
  VkernelConfigError,
  VkernelError,
  VkernelStateError,
} from "./errors.ts";
export * from "./memimage-layout.ts";
export { arrayPhysMemory, PhysAllocator, type PhysMemory, vmPhysMemory } from "./phys-memory.ts";
export { Memimage } from "./platform/memimage.ts";
export { VKERNEL_PANIC as VKERNEL_PANIC_STATUS } from "./platform/vcpu.ts";
export { VkHart } from "./platform/vk-hart.ts";
export { VkPmap } from "./platform/vk-pmap.ts";
export {
  MAX_MEMORY_BYTES,
  VKERNEL_PATH,
  type VkernelConfig,
  type VkernelGuest,
  type VkernelTap,
  validateConfig,
} from "./vkernel-config.ts";
export { createVkernelProgram } from "./vkernel-program.ts";
export {
  readVkernelView,
  type VkernelProcessView,
  type VkernelThreadView,
  type VkernelView,
} from "./vkernel-view.ts";
