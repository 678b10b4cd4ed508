import { InvalidArgumentError } from "commander";
import { UsageError } from "../errors.ts";

/** A `--tap NAME[:ADDR]`: host tap unit `NAME` (tapN), the vke's IPv4 address with its prefix. */
export interface TapSpec {
  readonly name: string;
  readonly unit: number;
  /** `10.0.0.2/24` (a bare address gets /24). */
  readonly address?: string;
}

/** A `--udp-bridge HOST:PORT`: the real loopback address and UDP port the host uplink binds. */
export interface UdpBridgeSpec {
  readonly host: string;
  readonly port: number;
  /** The guest's port datagrams go to (default `port`; differs after `vkc restore --udp-bridge`). */
  readonly guestPort?: number;
}

/** One guest of `vkc boot`: its ELF on this machine and its arguments. */
export interface GuestSpec {
  readonly elf: string;
  readonly args: readonly string[];
}

const PAGE = 4096;
const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** Largest memimage the vkernel takes (its `MAX_MEMORY_BYTES`: memimage sits at 1 GiB in vmspace0). */
export const MAX_MEMORY_BYTES = 1024 ** 3;

/** Commander value parser for `--memory`: `64M`, `512M`, `1G`, `65536K` or bytes; a page multiple. */
export function memoryOption(value: string): number {
  const m = /^([0-9][0-9_]*)([KMG]?)(i?B)?$/i.exec(value.trim());
  const n = m === null ? Number.NaN : Number((m[1] ?? "").replaceAll("_", ""));
  const bytes = n * (SIZE_UNITS[(m?.[2] ?? "").toUpperCase()] ?? Number.NaN);
  if (!Number.isSafeInteger(bytes) || bytes < 16 * PAGE || bytes > MAX_MEMORY_BYTES || bytes % PAGE !== 0) {
    throw new InvalidArgumentError(
      `--memory takes a size from 64K to 1G in whole 4 KiB pages (64M, 512M, 1G, or bytes), not '${value}'`,
    );
  }
  return bytes;
}

/** Commander value parser for a repeatable `--tap NAME[:ADDR]` (`tap0`, `tap1:10.0.0.2/24`). */
export function tapOption(value: string, previous: TapSpec[] = []): TapSpec[] {
  const m = /^tap([0-9]{1,2})(?::(.+))?$/.exec(value.trim());
  const unit = Number(m?.[1]);
  if (m === null || unit > 63) {
    throw new InvalidArgumentError(
      `--tap takes tapN[:ADDR/PREFIX] with N from 0 to 63 (tap0:10.0.0.2/24), not '${value}'`,
    );
  }
  if (previous.some((t) => t.unit === unit))
    throw new InvalidArgumentError(`--tap tap${unit} is given twice`);
  const address = m[2] === undefined ? undefined : parseAddress(m[2], value);
  return [...previous, { name: `tap${unit}`, unit, ...(address === undefined ? {} : { address }) }];
}

function parseAddress(text: string, value: string): string {
  const m = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:\/([0-9]{1,2}))?$/.exec(text);
  const octets = m === null ? [] : m.slice(1, 5).map(Number);
  const prefix = m?.[5] === undefined ? 24 : Number(m[5]);
  if (m === null || octets.some((o) => o > 255) || prefix < 1 || prefix > 30) {
    throw new InvalidArgumentError(
      `--tap address must be an IPv4 address with an optional /1../30 prefix, not '${value}'`,
    );
  }
  return `${octets.join(".")}/${prefix}`;
}

/** Commander value parser for `--udp-bridge HOST:PORT` (a loopback address, port 1..65535). */
export function udpBridgeOption(value: string): UdpBridgeSpec {
  const m = /^(.+):([0-9]{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (
    m === null ||
    port < 1 ||
    port > 0xffff ||
    !/^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$|^localhost$/.test(m[1] ?? "")
  ) {
    throw new InvalidArgumentError(
      `--udp-bridge takes a loopback HOST:PORT such as 127.0.0.1:7000, not '${value}'`,
    );
  }
  return { host: m[1] === "localhost" ? "127.0.0.1" : (m[1] as string), port };
}

/**
 * The guests of `vkc boot [options] -- <elf> [args] [-- <elf> [args]]…`: the words after the first
 * `--` (commander drops it), split at each further `--`. An empty group is a usage error.
 */
export function splitGuests(elf: string, rest: readonly string[]): GuestSpec[] {
  const groups: string[][] = [[elf]];
  for (const word of rest) {
    if (word === "--") groups.push([]);
    else groups[groups.length - 1]?.push(word);
  }
  return groups.map((group, i) => {
    const [path, ...args] = group;
    if (path === undefined) {
      throw new UsageError(`guest ${i + 1} has no ELF after '--' (see 'vkc boot --help')`);
    }
    return { elf: path, args };
  });
}

/** The guest's IPv4 address (no prefix) of a tap, and the /24-style address next to it the uplink takes. */
export function uplinkAddresses(tap: TapSpec): { guestIp: string; uplinkIp: string } {
  const guestIp = (tap.address ?? "").split("/")[0] ?? "";
  const octets = guestIp.split(".");
  const last = octets[3] === "254" ? "253" : "254";
  return { guestIp, uplinkIp: [...octets.slice(0, 3), last].join(".") };
}
