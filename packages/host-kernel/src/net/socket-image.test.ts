import type { CborMap, CborValue } from "@vkc/checkpoint";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HostKernelError } from "../errors.ts";
import { O_NONBLOCK, type OpenFile } from "../fs/file-types.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import type { Netif } from "./netif.ts";
import type { UdpSocket } from "./socket.ts";
import { NetImageError } from "./socket-errors.ts";
import {
  netStackImage,
  rebuildNetStack,
  rebuildSocket,
  socketDescriptorImage,
  socketImage,
} from "./socket-image.ts";

const text = (s: string) => new TextEncoder().encode(s);

function kernelWith(sent: Uint8Array[] = [], name = "eth0"): Kernel {
  const driver: Netif = {
    name,
    mac: "02:00:00:00:00:01",
    address: "10.0.0.1",
    prefixLength: 24,
    mtu: 1500,
    transmit: (f) => sent.push(f.slice()),
  };
  return createKernel({ netifs: [driver] });
}

/** A socket bound to 0.0.0.0:5000 holding two datagrams, non-blocking. */
function boundSocket(k: Kernel): { file: OpenFile; socket: UdpSocket } {
  const socket = k.net.newSocket();
  expect(k.net.bind(socket, "0.0.0.0", 5000)).toBe(0);
  const tx = k.net.newSocket();
  expect(k.net.sendto(tx, "127.0.0.1", 5000, text("one"))).toBe(3);
  expect(k.net.sendto(tx, "10.0.0.1", 5000, text("two!"))).toBe(4);
  return { file: { ops: socket, flags: 2 | O_NONBLOCK, offset: 0, refs: 1 }, socket };
}

describe("socketImage / rebuildSocket", () => {
  it("round-trips the bound address, flags and queued datagrams with their sources", () => {
    const { file } = boundSocket(kernelWith());
    const image = socketImage(file);
    expect(image).toMatchObject({ domain: 2, type: 2, port: 5000, nonblocking: true, dropped: 0 });
    const k2 = kernelWith();
    const rebuilt = rebuildSocket(k2, image, "fd[3]");
    const s = rebuilt.ops as UdpSocket;
    expect(rebuilt.flags & O_NONBLOCK).toBe(O_NONBLOCK);
    expect([s.localAddress, s.localPort, s.rxChannel]).toEqual(["0.0.0.0", 5000, "udp:5000"]);
    expect(s.queue.map((d) => [d.address, d.port, new TextDecoder().decode(d.payload)])).toEqual([
      ["127.0.0.1", 49152, "one"],
      ["10.0.0.1", 49152, "two!"],
    ]);
    expect(socketImage(rebuilt)).toEqual(image);
    // the rebuilt socket owns its port again
    expect(k2.net.boundSocket(5000)).toBe(s);
    expect(k2.net.sendto(k2.net.newSocket(), "127.0.0.1", 5000, text("x"))).toBe(1);
    expect(s.queue).toHaveLength(3);
  });

  it("the image model's descriptor carries the same fields and rebuilds too", () => {
    const { file } = boundSocket(kernelWith());
    const d = socketDescriptorImage(4, true, file);
    expect(d).toMatchObject({ fd: 4, cloexec: true, kind: "socket", port: 5000, nonblocking: true });
    expect([...d.address]).toEqual([0, 0, 0, 0]);
    expect(d.queued.map((q) => [...q.address])).toEqual([
      [127, 0, 0, 1],
      [10, 0, 0, 1],
    ]);
    const rebuilt = rebuildSocket(kernelWith(), d, "descriptors[0]");
    expect((rebuilt.ops as UdpSocket).queue).toHaveLength(2);
  });

  it("refuses a port already bound in the target kernel, naming the field", () => {
    const { file } = boundSocket(kernelWith());
    const k2 = kernelWith();
    k2.net.bind(k2.net.newSocket(), "0.0.0.0", 5000);
    expect(() => rebuildSocket(k2, socketImage(file), "p.fd[3]")).toThrow(
      /^p\.fd\[3\]\.port: port 5000 is already bound in this kernel$/,
    );
  });

  it("turns every hostile field into one NetImageError (fuzz)", () => {
    const { file } = boundSocket(kernelWith());
    const good = socketImage(file);
    const keys = ["domain", "type", "address", "port", "nonblocking", "queued", "dropped", "extra"];
    const value: fc.Arbitrary<CborValue> = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -5, max: 70000 }),
      fc.double(),
      fc.string({ maxLength: 4 }),
      fc.uint8Array({ maxLength: 6 }),
      fc.array(
        fc.oneof(
          fc.constant({}),
          fc.constant({ address: new Uint8Array(4), port: 1, payload: 1 }),
          fc.integer(),
        ),
        {
          maxLength: 3,
        },
      ),
      fc.constant(
        Array.from({ length: 65 }, () => ({
          address: new Uint8Array(4),
          port: 1,
          payload: new Uint8Array(1),
        })),
      ),
    );
    fc.assert(
      fc.property(fc.constantFrom(...keys), value, (key, v) => {
        const k2 = kernelWith();
        const m: CborMap = { ...good, [key]: v };
        try {
          rebuildSocket(k2, m, "s");
        } catch (error) {
          expect(HostKernelError.isInstance(error) && error instanceof NetImageError).toBe(true);
          expect((error as Error).message).toMatch(/^s\.\w+(\[\d+\](\.\w+)?)?: /);
        }
      }),
      { numRuns: 300 },
    );
    expect(() => rebuildSocket(kernelWith(), [] as unknown as CborMap, "s")).toThrow(/^s: expected a map$/);
  });
});

describe("netStackImage / rebuildNetStack", () => {
  it("carries ARP state, held datagrams, config and counters to a kernel with the same interfaces", () => {
    const sent: Uint8Array[] = [];
    const k = kernelWith(sent);
    const tx = k.net.newSocket();
    expect(k.net.sendto(tx, "10.0.0.7", 9, text("held for ARP"))).toBe(12);
    k.net.netifs[0]!.endpoint.setArp("10.0.0.8", "02:00:00:00:00:08");
    k.net.netifs[0]!.configure("10.0.0.1", 16);
    const image = netStackImage(k);

    const sent2: Uint8Array[] = [];
    const k2 = kernelWith(sent2);
    rebuildNetStack(k2, image, "net");
    expect(netStackImage(k2)).toEqual(image);
    const n = k2.net.netifs[0]!;
    expect([n.address, n.prefixLength, k2.net.nextEphemeral]).toEqual(["10.0.0.1", 16, 49153]);
    expect(n.endpoint.lookupArp("10.0.0.8")).toBe("02:00:00:00:00:08");
    // the held datagram goes out when the ARP reply comes
    n.endpoint.handleFrame(
      new Uint8Array([
        ...[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 7, 8, 6],
        ...[0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 7, 10, 0, 0, 7, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1],
      ]),
      0,
    );
    expect(sent2).toHaveLength(1);
  });

  it("refuses a kernel whose interfaces differ, before changing anything", () => {
    const image = netStackImage(kernelWith());
    const other = kernelWith([], "eth9");
    expect(() => rebuildNetStack(other, image, "net")).toThrow(
      /^net\.netifs\[0\]\.name: interface 0 is "eth9", not "eth0"$/,
    );
    expect(() => rebuildNetStack(createKernel(), image, "net")).toThrow(
      /1 interfaces saved, this kernel has 0/,
    );
    const bad = structuredClone(image) as { netifs: { endpoint: { arpCache: unknown[] } }[] };
    bad.netifs[0]!.endpoint.arpCache = [{ ip: "10.0.0.300", mac: "02:00:00:00:00:01" }];
    expect(() => rebuildNetStack(kernelWith(), bad as unknown as CborMap, "net")).toThrow(
      /^net\.netifs\[0\]\.endpoint\.arpCache\[0\]\.ip: "10\.0\.0\.300" is not an IPv4 address$/,
    );
  });
});
