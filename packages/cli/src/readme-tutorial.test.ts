/**
 * The root README's "Ten minutes with vkc" tutorial, followed literally: every `pnpm vkc …` line
 * of its sh block runs through `main`, in order, against fresh stores (the /tmp paths it names are
 * swapped for a temporary directory). Lines marked `# interactive` need a terminal: the tmux tests
 * (src/console/console-tmux.test.ts) drive those.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { captureIO } from "./io-capture.ts";
import { main } from "./main.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

interface Step {
  readonly line: string;
  readonly argv: string[];
}

/** The tutorial's commands: variables expanded, comments dropped, interactive lines left out. */
function tutorialSteps(readme: string, dir: string): { steps: Step[]; store: string } {
  const section = readme.slice(readme.indexOf("## Ten minutes with vkc"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const vars: Record<string, string> = {};
  const local = (text: string) => text.replaceAll("/tmp/vkc-", `${dir}/vkc-`);
  const expand = (text: string) =>
    local(text).replace(/\$([A-Z_]+)/g, (_, name: string) => vars[name] ?? `$${name}`);
  const steps: Step[] = [];
  for (const raw of block.split("\n")) {
    const comment = /\s#\s|^#/.exec(raw);
    const code = (comment === null ? raw : raw.slice(0, comment.index)).trim();
    if (code === "" || raw.includes("# interactive")) continue;
    const assign = /^(?:export )?([A-Z_]+)=(\S+)$/.exec(code);
    if (assign) {
      vars[assign[1] as string] = expand(assign[2] as string).replace(/^packages\//, `${ROOT}/packages/`);
      continue;
    }
    expect(code.startsWith("pnpm vkc "), code).toBe(true);
    steps.push({ line: code, argv: expand(code.slice("pnpm vkc ".length)).split(/\s+/) });
  }
  return { steps, store: vars.VKC_STORE ?? "" };
}

const dir = mkdtempSync(join(tmpdir(), "vkc-tutorial-"));
const { steps, store } = tutorialSteps(readFileSync(join(ROOT, "README.md"), "utf8"), dir);
const outputs = new Map<string, string>();
let savedStore: string | undefined;

describe("README tutorial (Ten minutes with vkc)", () => {
  beforeAll(() => {
    savedStore = process.env.VKC_STORE;
    process.env.VKC_STORE = store;
  });
  afterAll(() => {
    if (savedStore === undefined) delete process.env.VKC_STORE;
    else process.env.VKC_STORE = savedStore;
    rmSync(dir, { recursive: true, force: true });
  });

  test("has the steps a newcomer follows: run, checkpoint, list, inspect, restore elsewhere, boot", () => {
    expect(store).toMatch(/^file:/);
    const verbs = steps.map((s) => s.argv.slice(0, 2).join(" "));
    for (const verb of [
      "run --cpus",
      "images ls",
      "images show",
      "restore latest",
      "images copy",
      "boot --vcpus",
    ])
      expect(
        verbs.some((v) => v.startsWith(verb)),
        verb,
      ).toBe(true);
  });

  for (const [i, step] of steps.entries()) {
    test(`step ${i + 1}: ${step.line}`, async () => {
      const io = captureIO();
      const status = await main(step.argv, io);
      expect(status, io.stderr()).toBe(0);
      outputs.set(step.line, io.stdout());
    }, 60_000);
  }

  test("each restore finishes the program as the uninterrupted run did", () => {
    const whole = outputs.get(steps.find((s) => s.argv[0] === "run")?.line ?? "") ?? "";
    expect(whole).toMatch(/threads: ok\n$/);
    const restores = steps.filter((s) => s.argv[0] === "restore").map((s) => outputs.get(s.line) ?? "");
    expect(restores.length).toBeGreaterThanOrEqual(3);
    for (const out of restores) {
      expect(out.length).toBeGreaterThan(0);
      expect(whole.endsWith(out)).toBe(true);
    }
  });
});
