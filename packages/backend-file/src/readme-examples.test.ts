import { fileURLToPath } from "node:url";
import { prepareReadmeExamples } from "@vkc/checkpoint/testing";
import { afterAll, describe, expect, it } from "vitest";

// Every ```ts block of README.md is type-checked with this package's tsconfig and run,
// unless its info string says `ts no-run` (see prepareReadmeExamples).
const prepared = await prepareReadmeExamples(fileURLToPath(new URL("..", import.meta.url)));
afterAll(() => prepared.cleanup());

describe("README.md examples", () => {
  it("has runnable examples", () => {
    expect(prepared.examples.filter(({ example }) => example.run).length).toBeGreaterThan(0);
  });

  it("type-check under the package's strict tsconfig", async () => {
    expect(await prepared.typecheck()).toBe("");
  });

  for (const { example, file } of prepared.examples.filter(({ example }) => example.run)) {
    it(`runs the example at README.md:${example.line}`, async () => {
      await import(file);
    });
  }
});
