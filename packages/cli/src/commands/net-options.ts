import { InvalidArgumentError } from "commander";

/** One `--net BRIDGE:ADDR/PREFIX` of `vkc run`: kernel-wide interface ethN on host bridge BRIDGE. */
export interface NetSpec {
  /** `eth0`, `eth1`, … in the order the flags were given. */
  readonly name: string;
  readonly bridge: string;
  readonly address: string;
  readonly prefixLength: number;
}

/** Commander value parser for a repeatable `--net BRIDGE:ADDR/PREFIX` (`br0:10.0.0.1/24`). */
export function netOption(value: string, previous: NetSpec[] = []): NetSpec[] {
  const m = /^([a-z][a-z0-9_-]{0,14}):([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?:\/([0-9]{1,2}))?$/.exec(value.trim());
  const address = m?.[2] ?? "";
  const prefixLength = m?.[3] === undefined ? 24 : Number(m[3]);
  if (
    m === null ||
    address.split(".").some((o) => Number(o) > 255) ||
    prefixLength < 1 ||
    prefixLength > 30
  ) {
    throw new InvalidArgumentError(
      `--net takes BRIDGE:ADDR/PREFIX with an IPv4 address and a /1../30 prefix (br0:10.0.0.1/24), not '${value}'`,
    );
  }
  if (previous.some((n) => n.address === address))
    throw new InvalidArgumentError(`--net address ${address} is given twice`);
  return [...previous, { name: `eth${previous.length}`, bridge: m[1] as string, address, prefixLength }];
}
