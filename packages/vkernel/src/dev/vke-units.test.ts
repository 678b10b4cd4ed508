import { PROT_READ, PROT_WRITE, VmObjectIds, VmSpace } from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { VkernelConfigError } from "../errors.ts";
import { validateConfig } from "../vkernel-config.ts";
import { vkeInterfaces } from "./vke-config.ts";
import { VKE_BASE, VKE_RING_SLOTS, vkeRegionBytes } from "./vke-layout.ts";
import { vkeNetifs } from "./vke-netif.ts";
import { VkeRing } from "./vke-ring.ts";
import { vkeTapsFromState, vkeTapsState } from "./vke-state.ts";

describe("vke config", () => {
  it("derives name, MAC, address and bridge deterministically", () => {
    expect(vkeInterfaces([{ device: "/dev/tap3", address: "10.0.0.2/16" }, { device: "/dev/tap0" }])).toEqual(
      [
        {
          name: "vke0",
          device: "/dev/tap3",
          unit: 3,
          mac: "02:76:6b:65:03:00",
          address: "10.0.0.2",
          prefixLength: 16,
          mtu: 1500,
          bridge: "br0",
        },
        {
          name: "vke1",
          device: "/dev/tap0",
          unit: 0,
          mac: "02:76:6b:65:00:01",
          address: "0.0.0.0",
          prefixLength: 0,
          mtu: 1500,
          bridge: "br0",
        },
      ],
    );
    expect(vkeInterfaces([{ device: "/dev/tap1", address: "192.168.1.9", bridge: "lan" }])[0]).toMatchObject({
      prefixLength: 24,
      bridge: "lan",
    });
  });

  it("refuses bad taps with one VkernelConfigError naming the entry", () => {
    const base = { vcpus: 1, memoryBytes: 1 << 20, guests: [{ path: "/g", argv: ["g"] }] };
    for (const [taps, msg] of [
      [[{ device: "/dev/tun0" }], /taps\[0\]\.device "\/dev\/tun0"/],
      [[{ device: "/dev/tap64" }], /taps\[0\]\.device/],
      [[{ device: "/dev/tap1" }, { device: "/dev/tap1" }], /taps\[1\]\.device \/dev\/tap1 is given twice/],
      [[{ device: "/dev/tap0", address: "10.0.0.300/24" }], /taps\[0\]\.address/],
      [[{ device: "/dev/tap0", address: "10.0.0.1/31" }], /taps\[0\]\.address/],
      [[{ device: "/dev/tap0", bridge: "no spaces" }], /taps\[0\]\.bridge/],
      [Array.from({ length: 9 }, (_, i) => ({ device: `/dev/tap${i}` })), /9 taps, at most 8/],
    ] as const) {
      expect(() => validateConfig({ ...base, taps })).toThrow(VkernelConfigError);
      expect(() => validateConfig({ ...base, taps })).toThrow(msg);
    }
    expect(
      validateConfig({ ...base, taps: [{ device: "/dev/tap0", address: "10.0.0.2/24" }] }).taps,
    ).toHaveLength(1);
  });

  it("round-trips through the state, and rejects a malformed one", () => {
    const taps = [
      { device: "/dev/tap0", address: "10.0.0.2/24" },
      { device: "/dev/tap1", bridge: "br1" },
    ];
    expect(vkeTapsFromState(vkeTapsState(taps))).toEqual(taps);
    expect(vkeTapsFromState(undefined)).toEqual([]);
    expect(() => vkeTapsFromState([{ device: 1, address: "", bridge: "" }])).toThrow(
      /config\.taps\[0\]\.device is not text/,
    );
  });
});

describe("vke rings and driver", () => {
  /** A host address space with the vke region of one interface mapped. */
  const vmWithRegion = (): VmSpace => {
    const vm = new VmSpace(new VmObjectIds());
    vm.map({ addr: VKE_BASE, len: vkeRegionBytes(1), prot: PROT_READ | PROT_WRITE, flags: 0, fixed: true });
    return vm;
  };

  it("a ring keeps frames in order, refuses the 65th, and frees slots as they are taken", () => {
    const vm = vmWithRegion();
    const rx = new VkeRing(vm, 0, "rx");
    for (let i = 0; i < VKE_RING_SLOTS; i++) expect(rx.push(Uint8Array.of(i, i + 1))).toBe(true);
    expect(rx.full()).toBe(true);
    expect(rx.push(Uint8Array.of(99))).toBe(false);
    expect(rx.peek()).toEqual(Uint8Array.of(0, 1));
    rx.pop();
    expect(rx.push(Uint8Array.of(7))).toBe(true);
    const all = rx.frames();
    expect(all).toHaveLength(VKE_RING_SLOTS);
    expect(all.at(-1)).toEqual(Uint8Array.of(7));
  });

  it("transmit appends to the tx ring; a full ring counts a drop", () => {
    const vm = vmWithRegion();
    const [nif] = vkeNetifs(
      { vcpus: 1, memoryBytes: 1 << 20, guests: [], taps: [{ device: "/dev/tap0" }] },
      vm,
    );
    const tx = new VkeRing(vm, 0, "tx");
    for (let i = 0; i <= VKE_RING_SLOTS; i++) nif?.transmit(new Uint8Array(60).fill(i));
    expect(tx.count()).toBe(VKE_RING_SLOTS);
    expect(tx.peek()?.[0]).toBe(0);
  });
});
