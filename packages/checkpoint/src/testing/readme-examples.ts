import { execFile } from "node:child_process";
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

/**
 * README examples that the test suite runs.
 *
 * Convention: every ```ts fenced block of a package's README.md is an example that is
 * type-checked and run, unless its info string says `no-run` (```ts no-run), which is for
 * fragments that need something outside the test machine (a real AWS account, a terminal).
 * Examples are self-contained: they import what they use, make their own temp dirs and close
 * what they open.
 */

/** One ```ts block of a README. */
export interface ReadmeExample {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string, e.g. `ts` or `ts no-run`. */
  readonly info: string;
  readonly code: string;
  /** False when the info string says `no-run`. */
  readonly run: boolean;
}

/** Every ```ts (or ```typescript) block of `markdown`, in order. */
export function extractReadmeExamples(markdown: string): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  const lines = markdown.split(/\r?\n/);
  let open: { line: number; info: string; fence: string; body: string[] } | undefined;
  lines.forEach((text, i) => {
    if (open === undefined) {
      const m = /^(`{3,}|~{3,})\s*(.*)$/.exec(text);
      if (m !== null) open = { line: i + 1, info: m[2]!.trim(), fence: m[1]!, body: [] };
      return;
    }
    if (text.trim().startsWith(open.fence) && text.trim().replace(/[`~]/g, "") === "") {
      const words = open.info.split(/\s+/);
      if (words[0] === "ts" || words[0] === "typescript") {
        examples.push({
          line: open.line,
          info: open.info,
          code: open.body.join("\n"),
          run: !words.includes("no-run"),
        });
      }
      open = undefined;
      return;
    }
    open.body.push(text);
  });
  return examples;
}

/** A README's examples written out as .ts files inside the package. */
export interface PreparedReadmeExamples {
  /** The temp directory (under `<packageDir>/.vkc-tmp/`, which git ignores). */
  readonly dir: string;
  readonly examples: readonly { readonly example: ReadmeExample; readonly file: string }[];
  /** Runs the package's `tsc` over every example (runnable or not); resolves its diagnostics, "" if none. */
  typecheck(): Promise<string>;
  /** Removes the temp directory. */
  cleanup(): Promise<void>;
}

/**
 * Writes every ```ts block of `<packageDir>/README.md` to its own module in a temp directory
 * inside the package, so the package's own name and its dependencies resolve as they do for the
 * package's code (with the `@vkc/source` condition under vitest and the package's tsconfig).
 */
export async function prepareReadmeExamples(packageDir: string): Promise<PreparedReadmeExamples> {
  const markdown = await readFile(join(packageDir, "README.md"), "utf8");
  const dir = join(packageDir, ".vkc-tmp", `readme-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(dir, { recursive: true });
  const examples = extractReadmeExamples(markdown).map((example) => ({
    example,
    file: join(dir, `readme-line-${example.line}.ts`),
  }));
  for (const { example, file } of examples) {
    // `export {}` makes every block a module (top-level await, no shared globals).
    await writeFile(file, `${example.code}\n\nexport {};\n`);
  }
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../tsconfig.json",
      compilerOptions: { noEmit: true, declaration: false, declarationMap: false },
      include: ["*.ts"],
    }),
  );
  return {
    dir,
    examples,
    typecheck: () => runTsc(packageDir, dir),
    cleanup: async () => {
      await rm(dir, { recursive: true, force: true });
      await rmdir(dirname(dir)).catch(() => undefined); // only when no other run still uses it
    },
  };
}

async function runTsc(packageDir: string, dir: string): Promise<string> {
  const require = createRequire(join(packageDir, "package.json"));
  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
  try {
    await promisify(execFile)(
      process.execPath,
      [tsc, "-p", join(dir, "tsconfig.json"), "--pretty", "false"],
      {
        cwd: packageDir,
      },
    );
    return "";
  } catch (error) {
    const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
    return `${stdout ?? ""}${stderr ?? ""}`.trim() || message;
  }
}
