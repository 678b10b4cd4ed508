import { describe, expect, test } from "vitest";
import { NewlineRenderer } from "./output.ts";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

describe("NewlineRenderer", () => {
  test("turns CR LF into LF, also across chunk boundaries, and keeps lone CRs", () => {
    const r = new NewlineRenderer();
    const chunks = ["a\r\nb\r", "\nc\rd\r", "x\r"].map((s) => Buffer.from(s, "latin1"));
    const out = chunks.map((c) => text(r.render(c))).join("") + text(r.flush());
    expect(out).toBe("a\nb\nc\rd\rx\r");
  });
});
