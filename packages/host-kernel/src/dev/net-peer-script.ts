/**
 * The script of a scripted peer: plain text, one directive per line, `#` starts a comment line.
 *
 *     mac 02:00:00:00:00:fe          the peer's MAC (required)
 *     ip 10.0.0.2                    the peer's IPv4 address (required)
 *     arp on|off                     answer ARP requests for that address (default on)
 *     ping on|off                    answer ICMP echo requests for it (default on)
 *     echo 7                         send every UDP datagram for port 7 back to its sender
 *     echo *                         ... for every port
 *     at 2ms send 10.0.0.1:5000 from 9000 "hello\n"
 *     at 2500000 send 10.0.0.1:5000 from 9000 hex:00ff10
 *
 * `at` times are virtual times: a number (`_` separators allowed) with an optional unit ns
 * (default), us, ms or s; a decimal is allowed when the result is a whole number of ns. `+<time>`
 * means that long after the previous `at` line. Payloads are a JSON string (sent as UTF-8) or
 * `hex:` followed by an even number of hex digits.
 */

import { PeerScriptError } from "./net-errors.ts";
import { normalizeMac } from "./net-frame.ts";
import { normalizeIpv4Address } from "./net-ipv4.ts";

export interface PeerSend {
  /** Virtual time (ns) at which the datagram enters the bridge. */
  readonly at: number;
  readonly dstIp: string;
  readonly dstPort: number;
  readonly srcPort: number;
  readonly payload: Uint8Array;
}

export interface PeerScript {
  readonly mac: string;
  readonly ip: string;
  readonly arp: boolean;
  /** Answer ICMP echo requests. */
  readonly ping: boolean;
  /** UDP ports whose datagrams are echoed. */
  readonly echo: readonly number[];
  /** Echo every port. */
  readonly echoAll: boolean;
  /** Sorted by time (stable: lines with the same time keep their order). */
  readonly sends: readonly PeerSend[];
}

const UNIT_DIGITS: Record<string, number> = { ns: 0, us: 3, ms: 6, s: 9 };

/** "2ms" → 2000000, "1_500us" → 1500000, "1.5us" → 1500; undefined when not a whole number of ns. */
export function parseVirtualTime(text: string): number | undefined {
  const m = /^(\d[\d_]*)(?:\.(\d+))?(ns|us|ms|s)?$/.exec(text);
  if (m === null) return undefined;
  const digits = UNIT_DIGITS[m[3] ?? "ns"] as number;
  const fraction = m[2] ?? "";
  // Exact decimal arithmetic: no float rounding ("1.1ms" is exactly 1100000).
  if (/[^0]/.test(fraction.slice(digits))) return undefined;
  const value = Number((m[1] as string).replaceAll("_", "") + fraction.slice(0, digits).padEnd(digits, "0"));
  return Number.isSafeInteger(value) ? value : undefined;
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 0xffff ? port : undefined;
}

function parsePayload(text: string): Uint8Array | undefined {
  if (text.startsWith("hex:")) {
    const digits = text.slice(4);
    if (!/^([0-9a-fA-F]{2})*$/.test(digits)) return undefined;
    return Uint8Array.from(Buffer.from(digits, "hex"));
  }
  if (!text.startsWith('"')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "string" ? new TextEncoder().encode(value) : undefined;
  } catch {
    return undefined;
  }
}

/** Parse a peer script; throws PeerScriptError naming the line. */
export function parsePeerScript(text: string): PeerScript {
  let mac: string | undefined;
  let ip: string | undefined;
  let arp = true;
  let ping = true;
  let echoAll = false;
  const echo: number[] = [];
  const sends: PeerSend[] = [];
  let lastAt = 0;

  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (problem: string): never => {
      throw new PeerScriptError(lineNo, problem);
    };
    const [word, ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    switch (word) {
      case "mac":
        if (mac !== undefined) fail("mac given twice");
        mac = attempt(() => normalizeMac(arg)) ?? fail(`invalid MAC ${JSON.stringify(arg)}`);
        if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) fail("the peer's MAC must be unicast");
        break;
      case "ip":
        if (ip !== undefined) fail("ip given twice");
        ip = attempt(() => normalizeIpv4Address(arg)) ?? fail(`invalid IPv4 address ${JSON.stringify(arg)}`);
        break;
      case "arp":
        if (arg !== "on" && arg !== "off") fail(`arp takes on or off, not ${JSON.stringify(arg)}`);
        arp = arg === "on";
        break;
      case "ping":
        if (arg !== "on" && arg !== "off") fail(`ping takes on or off, not ${JSON.stringify(arg)}`);
        ping = arg === "on";
        break;
      case "echo":
        if (arg === "*") echoAll = true;
        else echo.push(parsePort(arg) ?? fail(`invalid UDP port ${JSON.stringify(arg)}`));
        break;
      case "at": {
        // at <time> send <ip>:<port> from <port> <payload>
        const m = /^(\S+)\s+send\s+(\S+):(\S+)\s+from\s+(\S+)\s+(.+)$/.exec(arg);
        if (m === null) fail('expected: at <time> send <ip>:<port> from <port> "<text>"|hex:<bytes>');
        const [, time, dst, dstPort, srcPort, payload] = m as RegExpExecArray;
        const relative = (time as string).startsWith("+");
        const offset = parseVirtualTime((time as string).slice(relative ? 1 : 0));
        if (offset === undefined) fail(`invalid time ${JSON.stringify(time)}`);
        lastAt = relative ? lastAt + (offset as number) : (offset as number);
        sends.push({
          at: lastAt,
          dstIp:
            attempt(() => normalizeIpv4Address(dst as string)) ??
            fail(`invalid IPv4 address ${JSON.stringify(dst)}`),
          dstPort: parsePort(dstPort) ?? fail(`invalid UDP port ${JSON.stringify(dstPort)}`),
          srcPort: parsePort(srcPort) ?? fail(`invalid UDP port ${JSON.stringify(srcPort)}`),
          payload: parsePayload(payload as string) ?? fail('payload must be a JSON "string" or hex:<bytes>'),
        });
        break;
      }
      default:
        fail(`unknown directive ${JSON.stringify(word)}`);
    }
  }
  if (mac === undefined) throw new PeerScriptError(lines.length, "no mac line");
  if (ip === undefined) throw new PeerScriptError(lines.length, "no ip line");
  sends.sort((a, b) => a.at - b.at);
  return { mac, ip, arp, ping, echo, echoAll, sends };
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
