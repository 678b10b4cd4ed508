import { describe, expect, it } from "vitest";
import { extractReadmeExamples } from "./readme-examples.ts";

describe("extractReadmeExamples", () => {
  it("returns ts blocks with their line, and marks `no-run` blocks as not run", () => {
    const markdown = [
      "# Title",
      "```sh",
      "pnpm add x",
      "```",
      "```ts",
      "const a = 1;",
      "```",
      "text",
      "```ts no-run",
      "const b = 2;",
      "const c = 3;",
      "```",
      "```typescript",
      "```",
    ].join("\n");
    expect(extractReadmeExamples(markdown)).toEqual([
      { line: 5, info: "ts", code: "const a = 1;", run: true },
      { line: 9, info: "ts no-run", code: "const b = 2;\nconst c = 3;", run: false },
      { line: 13, info: "typescript", code: "", run: true },
    ]);
  });

  it("ignores other languages and text inside other fences", () => {
    const markdown = ["````md", "```ts", "inside", "```", "````", "```json", "{}", "```"].join("\n");
    expect(extractReadmeExamples(markdown)).toEqual([]);
  });
});
