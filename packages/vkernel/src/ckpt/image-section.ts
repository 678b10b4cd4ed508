import type { CborMap, CborValue, Manifest } from "@vkc/checkpoint";
import type { Kernel } from "@vkc/host-kernel";
import { VkernelStateError } from "../errors.ts";
import { STATE_BASE, STATE_MAX_BYTES } from "../memimage-layout.ts";
import { MAX_MEMORY_BYTES } from "../vkernel-config.ts";
import { attach } from "../vkernel-instance.ts";
import { configOf } from "./ckpt-state.ts";
import { decodeStateHeader, decodeStatePayload, STATE_HEADER_BYTES, STATE_VERSION } from "./state-region.ts";

/** Version of the manifest's `vkernel` map (FORMAT.md §4.1, DESIGN.md §5.8). */
export const VKERNEL_SECTION_VERSION = 1;

/**
 * The manifest's `vkernel` map of a `kind: "vkernel"` image, decoded: a small summary of the
 * state region (the authoritative kernel state stays in the region's pages).
 */
export interface VkernelImageSection {
  /** `VKERNEL_SECTION_VERSION`. */
  readonly version: number;
  /** Where the state region is in vmspace0 (`STATE_BASE`) and its bytes (header + payload). */
  readonly stateAddress: number;
  readonly stateLength: number;
  /** The region header's generation (0: never serialized) and payload SHA-256 (hex; "" if none). */
  readonly generation: number;
  readonly sha256: string;
  readonly vcpus: number;
  readonly memoryBytes: number;
}

/**
 * The `vkernel` map for a host freeze of process `pid`, or undefined when it is not a vkernel
 * (no running vkernel attached and no state region header). Read between slices, as the freeze.
 * Pass it as `createStoreTarget`'s `vkernel` option: the image is then written with kind
 * `"vkernel"`.
 */
export function vkernelImageSection(kernel: Kernel, pid: number): CborMap | undefined {
  const proc = kernel.procs.get(pid);
  if (proc === undefined) return undefined;
  const vk = attach(proc.vm);
  const raw = proc.vm.copyin(STATE_BASE, STATE_HEADER_BYTES);
  let header = null;
  try {
    header = typeof raw === "number" ? null : decodeStateHeader(raw);
  } catch {
    header = null;
  }
  if (vk === undefined && header === null) return undefined;
  let config = vk?.config;
  if (config === undefined && header !== null) {
    const payload = proc.vm.copyin(STATE_BASE + STATE_HEADER_BYTES, header.length);
    if (typeof payload === "number") return undefined;
    config = configOf(decodeStatePayload(header, payload));
  }
  if (config === undefined) return undefined;
  return {
    version: VKERNEL_SECTION_VERSION,
    state: {
      address: STATE_BASE,
      length: header === null ? 0 : STATE_HEADER_BYTES + header.length,
      version: header?.version ?? STATE_VERSION,
      generation: header?.generation ?? 0,
      sha256: header?.sha256 ?? "",
    },
    vcpus: config.vcpus,
    memoryBytes: config.memoryBytes,
  };
}

const isMap = (v: CborValue | undefined): v is CborMap =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);

function uint(m: CborMap, key: string, where: string, max: number): number {
  const v = m[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
    throw new VkernelStateError(`image vkernel map: ${where}${key} is not an integer in 0..${max}`);
  return v;
}

/**
 * The `vkernel` map of a manifest, validated: null for a `"process"` image, the decoded section
 * for a `"vkernel"` one; a one-line `VkernelStateError` when the map is missing or malformed.
 */
export function readVkernelSection(manifest: Pick<Manifest, "kind" | "vkernel">): VkernelImageSection | null {
  if (manifest.kind !== "vkernel") return null;
  const m = manifest.vkernel;
  if (!isMap(m)) throw new VkernelStateError("image vkernel map: missing for kind vkernel");
  const version = uint(m, "version", "", 0xffff);
  if (version !== VKERNEL_SECTION_VERSION)
    throw new VkernelStateError(`image vkernel map: version ${version} is not ${VKERNEL_SECTION_VERSION}`);
  const s = m.state;
  if (!isMap(s)) throw new VkernelStateError("image vkernel map: state is not a map");
  const stateAddress = uint(s, "address", "state.", 0xffff_ffff);
  const stateLength = uint(s, "length", "state.", STATE_MAX_BYTES);
  const generation = uint(s, "generation", "state.", 0xffff_ffff);
  const sha256 = s.sha256;
  if (typeof sha256 !== "string" || !/^([0-9a-f]{64})?$/.test(sha256))
    throw new VkernelStateError("image vkernel map: state.sha256 is not 64 hex digits");
  if ((generation === 0) !== (sha256 === ""))
    throw new VkernelStateError("image vkernel map: state.sha256 and state.generation disagree");
  return {
    version,
    stateAddress,
    stateLength,
    generation,
    sha256,
    vcpus: uint(m, "vcpus", "", 64),
    memoryBytes: uint(m, "memoryBytes", "", MAX_MEMORY_BYTES),
  };
}
