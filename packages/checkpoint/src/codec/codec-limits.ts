/**
 * Reader limits for untrusted images. Every one is checked before anything is allocated for
 * it: the CBOR scan checks sizes, counts and depth on the raw bytes, the shape checks bound
 * every list. Defaults fit any image a 32-bit machine can produce; tests shrink them.
 */
export interface CodecLimits {
  /** Largest manifest envelope, in bytes. */
  readonly maxManifestBytes: number;
  /** Deepest CBOR nesting (arrays and maps). */
  readonly maxDepth: number;
  /** Most items in one CBOR array. */
  readonly maxArrayLength: number;
  /** Most entries in one CBOR map. */
  readonly maxMapEntries: number;
  /** Longest text string, in bytes. */
  readonly maxStringBytes: number;
  /** Longest byte string. */
  readonly maxBytesLength: number;
  readonly maxProcesses: number;
  readonly maxLwpsPerProcess: number;
  readonly maxMapEntriesPerVmspace: number;
  readonly maxObjects: number;
  /** Largest VM object, in pages (2^20 pages = the whole 32-bit space). */
  readonly maxObjectPages: number;
  readonly maxDescriptorsPerProcess: number;
  /** File descriptor numbers must be below this. */
  readonly maxFd: number;
  readonly maxArgs: number;
  readonly maxExecutables: number;
  readonly maxPacks: number;
  /** Most entries in one pack header. */
  readonly maxPackEntries: number;
  /** Largest pack header, in bytes. */
  readonly maxPackHeaderBytes: number;
  /** Longest parent chain a walk follows. */
  readonly maxChainDepth: number;
}

export const DEFAULT_LIMITS: CodecLimits = Object.freeze({
  maxManifestBytes: 256 * 1024 * 1024,
  maxDepth: 32,
  maxArrayLength: 1 << 20,
  maxMapEntries: 1 << 16,
  maxStringBytes: 1 << 16,
  maxBytesLength: 40 * 1024 * 1024,
  maxProcesses: 4096,
  maxLwpsPerProcess: 1024,
  maxMapEntriesPerVmspace: 1 << 16,
  maxObjects: 1 << 16,
  maxObjectPages: 1 << 20,
  maxDescriptorsPerProcess: 1 << 16,
  maxFd: 1 << 16,
  maxArgs: 1 << 14,
  maxExecutables: 4096,
  maxPacks: 1 << 18,
  maxPackEntries: 1 << 16,
  maxPackHeaderBytes: 8 * 1024 * 1024,
  maxChainDepth: 4096,
});

export function resolveLimits(overrides?: Partial<CodecLimits>): CodecLimits {
  return overrides === undefined ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...overrides };
}
