import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

async function script(shell: string): Promise<string> {
  const io = captureIO();
  expect(await main(["completion", shell], io)).toBe(0);
  expect(io.stderr()).toBe("");
  return io.stdout();
}

/** Source the script in a real bash, complete `line` (cursor at its end), and return the candidates. */
function complete(bashScript: string, line: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "vkc-completion-"));
  const file = join(dir, "vkc.bash");
  writeFileSync(file, bashScript);
  const words = line.split(" ");
  const probe = `
source "$1"
complete -p vkc
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
COMP_LINE='${line}'
COMP_POINT=\${#COMP_LINE}
_vkc_complete
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", probe, "bash", file], {
    encoding: "utf8",
    timeout: 10_000,
  });
  const [registration = "", ...candidates] = out.trimEnd().split("\n");
  expect(registration).toMatch(/-F _vkc_complete vkc$/);
  return candidates.filter((c) => c !== "");
}

describe("vkc completion", () => {
  test("bash: defines a completion for vkc listing the top-level commands", async () => {
    const bash = await script("bash");
    const commands = complete(bash, "vkc ");
    for (const name of ["demo", "run", "boot", "restore", "images", "s3mock", "completion"]) {
      expect(commands).toContain(name);
    }
    expect(complete(bash, "vkc re")).toEqual(["restore"]);
  });

  test("bash: vkc boot completes its own flags and the shared run flags", async () => {
    const flags = complete(await script("bash"), "vkc boot --");
    for (const flag of [
      "--vcpus",
      "--memory",
      "--tap",
      "--udp-bridge",
      "--checkpoint-at",
      "--store",
      "--json",
    ]) {
      expect(flags).toContain(flag);
    }
    expect(complete(await script("bash"), "vkc boot --v")).toEqual(["--vcpus"]);
  });

  test("bash: completes subcommands and flags of nested commands", async () => {
    const bash = await script("bash");
    expect(complete(bash, "vkc images ")).toEqual(
      expect.arrayContaining(["ls", "show", "diff", "verify", "gc", "copy", "rm", "tag"]),
    );
    expect(complete(bash, "vkc images show --no-")).toEqual(["--no-regs"]);
    expect(complete(bash, "vkc images --store x gc --dr")).toEqual(["--dry-run"]);
    expect(complete(bash, "vkc run --cp")).toEqual(["--cpus"]);
  });

  test("bash: every flag of every command completes (run --net, restore --lazy, boot --tap …)", async () => {
    const bash = await script("bash");
    // Each case in the script lists a command path's flags: every --help flag must be there.
    const cases = new Map(
      [...bash.matchAll(/^ {4}"([^"]*)"\) subs="[^"]*"; flags="([^"]*)"/gm)].map((m) => [
        m[1],
        m[2]?.split(" "),
      ]),
    );
    for (const path of ["run", "boot", "restore", "images ls", "images show", "images copy"]) {
      const io = captureIO();
      expect(await main([...path.split(" "), "--help"], io)).toBe(0);
      const helpFlags = [...io.stdout().matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]);
      expect(helpFlags.length, path).toBeGreaterThan(0);
      expect(cases.get(path), path).toEqual(expect.arrayContaining(helpFlags));
    }
    expect(complete(bash, "vkc run --ne")).toEqual(["--net"]);
    expect(complete(bash, "vkc run --ud")).toEqual(["--udp-bridge"]);
    expect(complete(bash, "vkc restore --la")).toEqual(["--lazy"]);
  });

  test("zsh: the script declares #compdef vkc and the same completion function", async () => {
    const zsh = await script("zsh");
    expect(zsh.startsWith("#compdef vkc\n")).toBe(true);
    expect(zsh).toContain("bashcompinit");
    expect(zsh).toContain("complete -o filenames -F _vkc_complete vkc");
  });

  test("an unknown shell is a usage error with one line naming the shells", async () => {
    const io = captureIO();
    expect(await main(["completion", "fish"], io)).toBe(2);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe(
      "vkc: no completion for shell 'fish': use one of bash, zsh (e.g. 'vkc completion bash')\n",
    );
  });
});

describe("help", () => {
  test("every command's --help has examples", async () => {
    const paths = ["", "demo", "run", "boot", "restore", "completion", "s3mock", "s3mock serve", "images"];
    for (const sub of ["ls", "show", "diff", "verify", "gc", "copy", "rm", "tag"])
      paths.push(`images ${sub}`);
    const bash = await script("bash");
    // The list above is every command the completion script knows, so a new command needs examples too.
    const known = [...bash.matchAll(/^ {4}"([^"]*)"\) subs=/gm)].map((m) => m[1]);
    expect(new Set(known.filter((p) => !/ (list|remove)$/.test(p ?? "")))).toEqual(new Set(paths));
    for (const path of paths) {
      const io = captureIO();
      expect(await main([...path.split(" ").filter((w) => w !== ""), "--help"], io)).toBe(0);
      expect(io.stdout(), `vkc ${path} --help`).toMatch(/\nExamples:\n {2}\$ .*vkc /);
    }
  });

  test("a usage error points at the help of the command it is about", async () => {
    const io = captureIO();
    expect(await main(["run", "--cpus", "99", "x.elf"], io)).toBe(2);
    expect(io.stderr()).toMatch(/--cpus must be a whole number from 1 to 64 \(see 'vkc run --help'\)\n$/);
    const nested = captureIO();
    expect(await main(["images", "copy", "latest"], nested)).toBe(2);
    expect(nested.stderr()).toBe(
      "vkc: required option '--to <url>' not specified (see 'vkc images copy --help')\n",
    );
  });
});
