import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

// ARCHITECTURE §1: dependencies point down this list only.
const LAYERS: Record<string, readonly string[]> = {
  "@vkc/checkpoint": [],
  "@vkc/backend-file": ["@vkc/checkpoint"],
  "@vkc/backend-s3mock": ["@vkc/checkpoint"],
  "@vkc/host-kernel": ["@vkc/checkpoint"],
  "@vkc/vkernel": ["@vkc/host-kernel", "@vkc/checkpoint"],
  "@vkc/cli": [
    "@vkc/vkernel",
    "@vkc/host-kernel",
    "@vkc/checkpoint",
    "@vkc/backend-file",
    "@vkc/backend-s3mock",
  ],
};

const root = join(import.meta.dirname, "..", "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(name) ? [path] : [];
  });
}

describe("package layering", () => {
  for (const dir of readdirSync(root)) {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const allowed = LAYERS[manifest.name];

    test(`${manifest.name} is a known layer`, () => {
      expect(allowed, `${manifest.name} is missing from LAYERS`).toBeDefined();
    });

    test(`${manifest.name} depends only on packages below it`, () => {
      const deps = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
      const internal = deps.filter((d) => d.startsWith("@vkc/"));
      expect(internal.filter((d) => !allowed?.includes(d))).toEqual([]);
    });

    test(`${manifest.name} sources import only packages below it`, () => {
      const bad: string[] = [];
      for (const file of sourceFiles(join(root, dir, "src"))) {
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)["'](@vkc\/[a-z0-9-]+)/g)) {
          const target = m[1]!;
          if (target !== manifest.name && !allowed?.includes(target)) bad.push(`${file}: ${target}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
