import { describe, expect, it } from "vitest";
import { BridgeRegistry } from "../dev/bridge-registry.ts";
import { createKernel, type KernelOptions } from "../kernel.ts";
import { isUdpSocket } from "../net/socket.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { guestElf, memoryImages, text } from "./ckpt-test-support.ts";
import { thawProcess } from "./thaw.ts";

/** Freeze/thaw of a process holding a UDP socket (format 1.2 "socket" descriptor). */

function network(): KernelOptions {
  const bridges = new BridgeRegistry();
  bridges.create("br0");
  return {
    network: {
      bridges,
      interfaces: [{ name: "eth0", bridge: "br0", address: "10.0.0.1", prefixLength: 24 }],
    },
  };
}

describe("freeze and thaw of sockets", () => {
  it("udpecho frozen while waiting in recvfrom answers udpping after a thaw", async () => {
    const images = memoryImages();
    const kernel = createKernel({ ...network(), files: { "/bin/udpecho": guestElf("udpecho") } });
    const pid = kernel.spawn({ path: "/bin/udpecho", argv: ["udpecho", "7007", "3"] });
    const stop = await kernel.run({ maxInstructions: 2_000_000 });
    expect(stop.reason).toBe("deadlock"); // bound and blocked: nobody sends yet
    const written = await createStoreTarget(images).checkpoint(kernel, pid);

    const chunks: Uint8Array[] = [];
    const { kernel: thawed } = await thawProcess(images, written.id, {
      ...network(),
      console: { write: (b) => chunks.push(b.slice()) },
      files: { "/bin/udpecho": guestElf("udpecho") },
    });
    const proc = thawed.procs.get(pid);
    const sockets = (proc?.fds.open() ?? [])
      .map((fd) => proc?.fds.get(fd)?.ops)
      .filter((o) => o && isUdpSocket(o));
    expect(sockets).toHaveLength(1);
    thawed.spawn({
      path: "/bin/udpping",
      elf: guestElf("udpping"),
      argv: ["udpping", "10.0.0.1", "7007", "3"],
    });
    const result = await thawed.run({ maxInstructions: 200_000_000 });
    expect(result.reason).toBe("exited");
    expect(thawed.procs.get(pid)?.exitStatus).toBe(0);
    expect(text(chunks)).toContain("reply 3");
  }, 30_000);
});
