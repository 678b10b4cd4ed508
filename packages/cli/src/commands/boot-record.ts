import type { CborMap, Manifest } from "@vkc/checkpoint";
import type { TapSpec, UdpBridgeSpec } from "./boot-options.ts";
import { type BootConfig, VKERNEL_PATH, vkernelImageOf } from "./boot-vkernel.ts";

/** Key of the CLI's section in a manifest's `extensions` (the same as run.ts's `CLI_EXTENSION`). */
const CLI_SECTION = "vkcCli";
/** Key, inside that section, of what `vkc boot` booted: what `vkc restore` rebuilds around it. */
export const BOOT_SECTION = "vkernel";

/** What a vkernel image records of its boot (in `extensions.vkcCli.vkernel`). */
export interface BootRecord {
  readonly config: BootConfig;
  readonly taps: readonly TapSpec[];
  readonly udpBridge?: UdpBridgeSpec;
  /** SHA-256 (hex) of each guest ELF by its VFS path, as booted: restore refuses a changed file. */
  readonly guestHashes?: Readonly<Record<string, string>>;
}

/** The boot record as the CBOR map it is stored as, for `LazyStoreTarget`'s section. */
export function bootSection(record: BootRecord): CborMap {
  return { [BOOT_SECTION]: JSON.parse(JSON.stringify(record)) as CborMap };
}

/**
 * The boot record of a vkernel image; for a vkernel image made without `vkc boot` (its process is
 * `/boot/vkernel` but there is no record) a minimal one with no guests and no network; null for
 * any other image.
 */
export function readBootRecord(manifest: Manifest): BootRecord | null {
  // kind "vkernel" (FORMAT.md §4.1) says what it is; its map is validated (one line if malformed).
  const image = vkernelImageOf(manifest);
  const cli = manifest.extensions?.[CLI_SECTION];
  const section = isMap(cli) ? cli[BOOT_SECTION] : undefined;
  if (isMap(section) && isMap(section.config)) {
    const c = section.config;
    const config: BootConfig = {
      vcpus: num(c.vcpus, 1),
      memoryBytes: num(c.memoryBytes, 0),
      guests: (Array.isArray(c.guests) ? c.guests : []).filter(isMap).map((g) => ({
        path: String(g.path),
        argv: Array.isArray(g.argv) ? g.argv.map(String) : [],
      })),
      taps: (Array.isArray(c.taps) ? c.taps : []).filter(isMap).map((t) => ({
        device: String(t.device),
        ...(typeof t.address === "string" ? { address: t.address } : {}),
      })),
      ...(typeof c.seed === "number" ? { seed: c.seed } : {}),
    };
    const taps = (Array.isArray(section.taps) ? section.taps : []).filter(isMap).map((t) => ({
      name: String(t.name),
      unit: num(t.unit, 0),
      ...(typeof t.address === "string" ? { address: t.address } : {}),
    }));
    const u = section.udpBridge;
    const udpBridge = isMap(u)
      ? {
          host: String(u.host),
          port: num(u.port, 0),
          ...(typeof u.guestPort === "number" ? { guestPort: u.guestPort } : {}),
        }
      : undefined;
    const hashes = isMap(section.guestHashes) ? section.guestHashes : {};
    const guestHashes = Object.fromEntries(
      Object.entries(hashes).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    return { config, taps, guestHashes, ...(udpBridge === undefined ? {} : { udpBridge }) };
  }
  if (image === null && manifest.processes[0]?.argv[0] !== VKERNEL_PATH) return null;
  return { config: { vcpus: image?.vcpus ?? 1, memoryBytes: image?.memoryBytes ?? 0, guests: [] }, taps: [] };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function num(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
