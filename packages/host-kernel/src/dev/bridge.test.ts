import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bridge, type BridgeLink, type BridgePort } from "./bridge.ts";
import { BridgeRegistry } from "./bridge-registry.ts";
import { BridgeError } from "./net-errors.ts";
import { BROADCAST_MAC, ETHER_MAX_LEN, localMac } from "./net-frame.ts";
import { encodeEthernet } from "./net-ipv4.ts";

/** A port that records what it receives. */
class RecordingPort implements BridgePort {
  readonly got: { frame: Uint8Array; now: number }[] = [];
  link: BridgeLink | undefined;
  constructor(
    readonly name: string,
    readonly maxFrameLength?: number,
  ) {}
  receive(frame: Uint8Array, now: number): void {
    this.got.push({ frame, now });
  }
}

function frame(dst: string, src: string, payload = Uint8Array.of(1, 2, 3)): Uint8Array {
  return encodeEthernet({ dst, src, ethertype: 0x88b5, payload });
}

function setup(n: number, options = {}) {
  const bridge = new Bridge("br0", options);
  const ports = Array.from({ length: n }, (_, i) => new RecordingPort(`p${i}`));
  for (const port of ports) port.link = bridge.attach(port);
  return { bridge, ports };
}

const A = localMac(1);
const B = localMac(2);
const C = localMac(3);

describe("Bridge learning and forwarding", () => {
  it("floods an unknown destination to every other port and learns the source", () => {
    const { bridge, ports } = setup(3);
    expect(bridge.input("p0", frame(B, A), 10)).toBe(true);
    expect(ports.map((p) => p.got.length)).toEqual([0, 0, 0]); // nothing before poll
    expect(bridge.poll(10)).toBe(2);
    expect(ports.map((p) => p.got.length)).toEqual([0, 1, 1]);
    expect(bridge.lookup(A, 10)).toBe("p0");
    expect(bridge.stats.flooded).toBe(1);
  });

  it("forwards a learned unicast destination to its port only", () => {
    const { bridge, ports } = setup(3);
    bridge.input("p1", frame(A, B), 0); // learn B on p1
    bridge.poll(0);
    bridge.input("p0", frame(B, A), 5);
    bridge.poll(5);
    expect(ports[1]?.got.length).toBe(1);
    expect(ports[2]?.got.length).toBe(1); // only the first, flooded frame
    expect(bridge.stats.forwarded).toBe(1);
  });

  it("floods broadcast even when learned, and filters frames for the ingress port", () => {
    const { bridge, ports } = setup(3);
    bridge.input("p0", frame(BROADCAST_MAC, A), 0);
    bridge.input("p0", frame(BROADCAST_MAC, B), 0); // B now learned on p0
    bridge.input("p0", frame(B, A), 0); // destination on the ingress port
    bridge.poll(0);
    expect(ports.map((p) => p.got.length)).toEqual([0, 2, 2]);
    expect(bridge.stats.filtered).toBe(1);
  });

  it("moves a MAC that shows up on another port", () => {
    const { bridge } = setup(2);
    bridge.input("p0", frame(B, A), 0);
    bridge.input("p1", frame(B, A), 1);
    expect(bridge.lookup(A, 1)).toBe("p1");
  });

  it("ages addresses out after ageingTime and evicts the least recently seen when full", () => {
    const { bridge } = setup(2, { ageingTime: 100, maxAddresses: 2 });
    bridge.input("p0", frame(C, A), 0);
    expect(bridge.lookup(A, 100)).toBe("p0");
    expect(bridge.lookup(A, 101)).toBeUndefined();
    bridge.input("p0", frame(C, A), 200);
    bridge.input("p1", frame(C, B), 201);
    bridge.input("p0", frame(A, A), 202); // refresh A
    bridge.input("p1", frame(A, C), 203); // evicts B, the least recently seen
    expect(bridge.addresses().map((a) => a.mac)).toEqual([A, C]);
  });

  it("forgets the addresses of a detached port and drops deliveries due to it", () => {
    const { bridge, ports } = setup(2);
    bridge.input("p1", frame(A, B), 0);
    bridge.poll(0);
    bridge.input("p0", frame(B, A), 1);
    ports[1]?.link?.detach();
    expect(bridge.lookup(B, 1)).toBeUndefined();
    bridge.poll(1);
    expect(bridge.stats.dropNoPort).toBe(1);
    expect(ports[1]?.link?.send(frame(A, B), 2)).toBe(false);
  });

  it("refuses two ports with the same name", () => {
    const bridge = new Bridge("br0");
    bridge.attach(new RecordingPort("x"));
    expect(() => bridge.attach(new RecordingPort("x"))).toThrow(BridgeError);
  });
});

describe("Bridge frame validation", () => {
  it("drops runts, giants, 802.3 length frames and multicast sources, counting each", () => {
    const { bridge, ports } = setup(2);
    expect(bridge.input("p0", new Uint8Array(13), 0)).toBe(false);
    expect(bridge.input("p0", frame(B, A, new Uint8Array(1501)), 0)).toBe(false);
    expect(bridge.input("p0", frame(B, A, new Uint8Array(1500)), 0)).toBe(true);
    expect(
      bridge.input("p0", encodeEthernet({ dst: B, src: A, ethertype: 100, payload: new Uint8Array(4) }), 0),
    ).toBe(false);
    expect(bridge.input("p0", frame(B, "01:00:5e:00:00:01"), 0)).toBe(false);
    expect(bridge.input("p0", new Uint8Array(14).fill(2, 0, 6).fill(0x08, 12, 13), 0)).toBe(true); // header only
    bridge.poll(0);
    expect(ports[1]?.got.map((g) => g.frame.length)).toEqual([ETHER_MAX_LEN, 14]);
    expect(bridge.stats).toMatchObject({
      dropRunt: 1,
      dropGiant: 1,
      dropNotEthernetII: 1,
      dropMulticastSource: 1,
    });
  });

  it("drops deliveries larger than the egress port takes", () => {
    const bridge = new Bridge("br0");
    const small = new RecordingPort("small", 100);
    bridge.attach(new RecordingPort("big"));
    bridge.attach(small);
    bridge.input("big", frame(B, A, new Uint8Array(87)), 0); // 101 bytes
    bridge.input("big", frame(B, A, new Uint8Array(86)), 0); // 100 bytes
    bridge.poll(0);
    expect(small.got.map((g) => g.frame.length)).toEqual([100]);
    expect(bridge.stats.dropTooBigForPort).toBe(1);
  });

  it("copies the frame at input", () => {
    const { bridge, ports } = setup(2);
    const f = frame(B, A);
    bridge.input("p0", f, 0);
    f[14] = 99;
    bridge.poll(0);
    expect(ports[1]?.got[0]?.frame[14]).toBe(1);
  });
});

describe("Bridge timing and queue", () => {
  it("delivers at input time + latency, never earlier, in order", () => {
    const { bridge, ports } = setup(2, { latency: 1000 });
    bridge.input("p0", frame(B, A, Uint8Array.of(1)), 0);
    bridge.input("p0", frame(B, A, Uint8Array.of(2)), 500);
    expect(bridge.nextEventTime()).toBe(1000);
    expect(bridge.poll(999)).toBe(0);
    expect(bridge.poll(1200)).toBe(1);
    expect(bridge.nextEventTime()).toBe(1500);
    expect(bridge.poll(5000)).toBe(1);
    expect(ports[1]?.got.map((g) => [g.frame[14], g.now])).toEqual([
      [1, 1000],
      [2, 1500],
    ]);
    expect(bridge.nextEventTime()).toBeUndefined();
  });

  it("drops at the tail when the queue is full", () => {
    const { bridge, ports } = setup(2, { maxQueue: 3 });
    for (let i = 0; i < 5; i++) bridge.input("p0", frame(B, A, Uint8Array.of(i)), 0);
    bridge.poll(0);
    expect(ports[1]?.got.map((g) => g.frame[14])).toEqual([0, 1, 2]);
    expect(bridge.stats.dropQueueFull).toBe(2);
  });

  it("lets ports emit at tick and bounds deliveries per poll", () => {
    const bridge = new Bridge("br0", { maxDeliveriesPerPoll: 10 });
    // Two ports that bounce every frame back: a livelock at latency 0 without the bound.
    const bouncer = (name: string): BridgePort & { link?: BridgeLink } => {
      const port: BridgePort & { link?: BridgeLink } = {
        name,
        receive: (f, now) => port.link?.send(f, now),
      };
      return port;
    };
    const x = bouncer("x");
    const y = bouncer("y");
    x.link = bridge.attach(x);
    y.link = bridge.attach(y);
    const emitter: BridgePort & { link?: BridgeLink } = {
      name: "e",
      receive: () => {},
      tick: (now) => emitter.link?.send(frame(BROADCAST_MAC, A), now),
    };
    emitter.link = bridge.attach(emitter);
    expect(bridge.poll(0)).toBe(10);
    expect(bridge.nextEventTime()).toBe(0);
  });

  it("is deterministic: the same inputs give the same deliveries", () => {
    const run = () => {
      const { bridge, ports } = setup(4, { latency: 7 });
      for (let i = 0; i < 50; i++) {
        const from = `p${(i * 7) % 4}`;
        bridge.input(from, frame(localMac((i * 5) % 6), localMac((i * 7) % 4)), i * 3);
        if (i % 5 === 0) bridge.poll(i * 3);
      }
      bridge.poll(1000);
      return ports.map((p) => p.got.map((g) => `${g.now}:${Buffer.from(g.frame).toString("hex")}`));
    };
    expect(run()).toEqual(run());
  });
});

describe("Bridge snapshot", () => {
  it("round-trips table, queue and counters through plain data", () => {
    const { bridge } = setup(2, { latency: 50 });
    bridge.input("p0", frame(B, A), 0);
    bridge.input("p1", frame(A, B), 10);
    const saved = structuredClone(bridge.snapshot());
    const again = Bridge.fromSnapshot(saved);
    expect(again.snapshot()).toEqual(bridge.snapshot());
    const p1 = new RecordingPort("p1");
    again.attach(new RecordingPort("p0"));
    again.attach(p1);
    again.poll(100);
    expect(p1.got.length).toBe(1);
    expect(again.lookup(A, 100)).toBe("p0");
  });
});

describe("BridgeRegistry", () => {
  it("polls every bridge and reports the earliest event", () => {
    const registry = new BridgeRegistry();
    const one = registry.create("br0", { latency: 5 });
    const two = registry.create("br1", { latency: 3 });
    expect(() => registry.create("br0")).toThrow(BridgeError);
    const ports = ["a", "b"].map((n) => new RecordingPort(n));
    const more = ["a", "b"].map((n) => new RecordingPort(n));
    for (const p of ports) one.attach(p);
    for (const p of more) two.attach(p);
    one.input("a", frame(B, A), 0);
    two.input("a", frame(B, A), 0);
    expect(registry.nextEventTime()).toBe(3);
    expect(registry.poll(5)).toBe(2);
    expect(registry.nextEventTime()).toBeUndefined();
    expect(BridgeRegistry.fromSnapshot(registry.snapshot()).names()).toEqual(["br0", "br1"]);
  });

  it("has nothing to wait for without live ports", async () => {
    const registry = new BridgeRegistry();
    registry.create("br0");
    expect(registry.hasLivePorts()).toBe(false);
    await expect(registry.waitForLiveInput()).resolves.toBe(false);
  });
});

describe("Bridge against a reference model", () => {
  it("delivers every frame exactly where a learning switch would, in order", () => {
    const macs = [A, B, C, localMac(4), BROADCAST_MAC, "33:33:00:00:00:01"];
    const step = fc.record({
      port: fc.integer({ min: 0, max: 3 }),
      src: fc.integer({ min: 0, max: 3 }),
      dst: fc.integer({ min: 0, max: macs.length - 1 }),
      poll: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { bridge, ports } = setup(4, { latency: 2 });
        const learned = new Map<string, number>();
        const expected: number[][] = [[], [], [], []];
        steps.forEach((s, i) => {
          const src = macs[s.src] as string;
          const dst = macs[s.dst] as string;
          bridge.input(`p${s.port}`, frame(dst, src, Uint8Array.of(i)), i);
          learned.set(src, s.port);
          const known = learned.get(dst);
          const group = (Number.parseInt(dst.slice(0, 2), 16) & 1) === 1;
          if (!group && known !== undefined) {
            if (known !== s.port) expected[known]?.push(i);
          } else {
            for (let p = 0; p < 4; p++) if (p !== s.port) expected[p]?.push(i);
          }
          if (s.poll) bridge.poll(i);
        });
        bridge.poll(steps.length + 2);
        expect(ports.map((p) => p.got.map((g) => g.frame[14]))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
