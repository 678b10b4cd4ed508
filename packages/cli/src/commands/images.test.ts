import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImageStore } from "@vkc/checkpoint";
import { afterEach, describe, expect, test, vi } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";
import { draft, pages, type SampleImages, writeSampleImages } from "../stores/__fixtures__/sample-images.ts";
import { openStore } from "../stores/store-registry.ts";

async function vkc(...argv: string[]) {
  const io = captureIO();
  const status = await main(argv, io);
  return { status, stdout: io.stdout(), stderr: io.stderr() };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One line on stderr, the right status, and nothing on stdout. */
function expectFailure(
  r: { status: number; stdout: string; stderr: string },
  status: number,
  message: RegExp,
) {
  expect(r.status).toBe(status);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^vkc: /);
  expect(r.stderr).toMatch(message);
}

let counter = 0;
async function fileStore(): Promise<{ url: string; dir: string; ids: SampleImages }> {
  const dir = mkdtempSync(join(tmpdir(), "vkc-images-"));
  const url = `file:${dir}`;
  return { url, dir, ids: await writeSampleImages(url) };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The AGE column: relative to the wall clock, so any age (or "in the future" before the fixtures' date). */
const AGE = "(?:just now|\\d+[smhd] ago|in the future)";

describe("vkc images ls", () => {
  test("shows a tree of parent chains with id prefix, time, size, program and refs", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "ls", "--store", url);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+AGE\s+SIZE\s+PROGRAM\s+REFS$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${ids.base.slice(0, 12)}\\s+2026-11-28 12:00:00Z\\s+${AGE}\\s+48 KiB\\s+hello\\s+\\[base\\]$`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^└─ ${ids.child.slice(0, 12)}\\s+2026-11-28 12:02:00Z\\s+${AGE}\\s+48 KiB \\(\\+8\\.0 KiB\\)\\s+hello\\s+\\[latest\\]$`,
      ),
    );
    expect(lines[3]).toMatch(
      new RegExp(`^${ids.other.slice(0, 12)}\\s+2026-11-28 12:01:00Z\\s+${AGE}\\s+48 KiB\\s+cat$`),
    );
    expect(lines).toHaveLength(4);
  });

  test("is the default subcommand, and the store comes from VKC_STORE when --store is absent", async () => {
    const { url, ids } = await fileStore();
    vi.stubEnv("VKC_STORE", url);
    const r = await vkc("images");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(ids.other.slice(0, 12));
  });

  test("--json prints one parseable object per image, in tree order", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "ls", "--json", "--store", url);
    expect(r.status).toBe(0);
    const events = jsonLines(r.stdout);
    expect(events.map((e) => e.id)).toEqual([ids.base, ids.child, ids.other]);
    expect(events[1]).toMatchObject({
      event: "image",
      parent: ids.base,
      depth: 1,
      newBytes: 2 * 4096,
      refs: ["latest"],
      program: "hello",
      pages: 12,
      bytes: 12 * 4096,
      kind: "process",
    });
    expect(events[2]).toMatchObject({ parent: null, program: "cat", refs: [], newBytes: null });
  });

  test("an empty store lists nothing and says so on stderr", async () => {
    const r = await vkc("images", "ls", "--store", `memory:empty-${counter++}`);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^vkc: no images in memory:empty-/);
  });
});

describe("vkc images show and diff", () => {
  test("show renders processes, threads with registers, tp and masks, the map with page counts, descriptors", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "show", "latest", "--store", url);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const out = r.stdout;
    expect(out).toMatch(
      new RegExp(
        `^image ${ids.child.slice(0, 12)}  process  format 1\\.\\d+  parent ${ids.base.slice(0, 12)}`,
      ),
    );
    expect(out).toMatch(/process 100 \(ppid 1\) hello \/bin\/hello world/);
    expect(out).toMatch(/thread 100: pc 0x00010040 .* tp 0x7fff0064 mask 0x0000000000000004 .* runnable/);
    expect(out).toMatch(/thread 101: .* sleeping on 0x20000/);
    expect(out).toMatch(/ {2}ra 0x00001175 {4}sp 0x00002286 {4}gp 0x00003397 {4}tp 0x7fff0064/);
    expect(out).toMatch(/t6 0x00021174/);
    expect(out).toMatch(/0x00020000-0x00030000 rw- normal .*: 16 pages: 8 resident, 8 zero, 6 shared, 2 new/);
    expect(out).toMatch(/fd 3 pipe: pipe 1 read end, 2 bytes buffered/);
    expect(out).toMatch(/fd 0 tty: \/dev\/tty/);
  });

  test("show takes a unique id prefix, and --no-regs leaves out the registers", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "show", ids.other.slice(0, 6), "--no-regs", "--store", url);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/process 100 \(ppid 1\) cat/);
    expect(r.stdout).not.toMatch(/ ra 0x/);
  });

  test("show --json is one object with the summary and every register by ABI name", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "show", "base", "--json", "--store", url);
    expect(r.status).toBe(0);
    const [event, ...rest] = jsonLines(r.stdout);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ event: "image", id: ids.base });
    const summary = event!.summary as {
      processes: { threads: { tid: number }[] }[];
      totals: { resident: number };
    };
    expect(summary.processes[0]!.threads.map((t) => t.tid)).toEqual([100, 101]);
    expect(summary.totals.resident).toBe(12);
    const registers = event!.registers as { tid: number; regs: Record<string, number> }[];
    expect(registers[0]).toMatchObject({ tid: 100, regs: { tp: 0x7fff0064, pc: 0x10000, zero: 100 } });
  });

  test("diff names the changed registers and pages", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "diff", "base", "latest", "--store", url);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^diff ${ids.base.slice(0, 12)} -> ${ids.child.slice(0, 12)}`));
    expect(r.stdout).toMatch(/pages: 0 added, 2 changed, 0 removed/);
    expect(r.stdout).toMatch(/~ thread 100: pc 0x00010000->0x00010040/);
    const json = await vkc("images", "diff", "base", "latest", "--json", "--store", url);
    const [event] = jsonLines(json.stdout);
    expect(event).toMatchObject({ event: "diff", from: ids.base, to: ids.child, pages: { changed: 2 } });
  });

  test("an unknown image, an ambiguous prefix and a missing argument fail with one line", async () => {
    const { url } = await fileStore();
    expectFailure(
      await vkc("images", "show", "nope", "--store", url),
      1,
      /image "nope": no image, ref or id prefix by that name in store file:/,
    );
    expectFailure(await vkc("images", "diff", "base", "cafe", "--store", url), 1, /image "cafe"/);
    expectFailure(await vkc("images", "show", "--store", url), 2, /missing required argument 'image'/);
    expectFailure(await vkc("images", "verify", "nope", "--store", url), 1, /image "nope": no image/);
    expectFailure(await vkc("images", "frobnicate"), 2, /unknown command 'frobnicate'/);

    // Two images whose ids share their first 4 hex digits make that prefix ambiguous.
    const name = `memory:ambiguous-${counter++}`;
    const images = createImageStore(await openStore(name));
    const seen = new Map<string, string>();
    let prefix: string | undefined;
    for (let i = 0; prefix === undefined && i < 5000; i++) {
      const { id } = await images.writeImage(
        draft({ time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }),
        [],
        { refs: [] },
      );
      if (seen.has(id.slice(0, 4))) prefix = id.slice(0, 4);
      seen.set(id.slice(0, 4), id);
    }
    expect(prefix).toBeDefined();
    expectFailure(
      await vkc("images", "show", prefix!, "--store", name),
      1,
      /prefix matches 2 images .* in store memory:/,
    );
  });
});

describe("vkc images verify", () => {
  test("a sound store verifies with a summary and exit 0, one image too", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "verify", "--store", url);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`ok: 3 images, 3 packs, 26 pages, 0 blobs verified in ${url}\n`);
    expect(r.stderr).toBe("");
    const one = await vkc("images", "verify", ids.child.slice(0, 8), "--json", "--store", url);
    expect(one.status).toBe(0);
    expect(jsonLines(one.stdout)).toEqual([
      expect.objectContaining({ event: "verify", ok: true, images: 1, problems: 0, damagedImages: [] }),
    ]);
  });

  test("a flipped byte in a pack file is found: one line per damaged object naming the image, exit 1", async () => {
    const { url, dir, ids } = await fileStore();
    const manifest = await createImageStore(await openStore(url)).readManifest(ids.other);
    const pack = manifest.packs[0]!;
    const file = join(dir, "packs@", pack);
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(file, bytes);

    const r = await vkc("images", "verify", "--store", url);
    expect(r.status).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(new RegExp(`\\(breaks ${ids.other.slice(0, 12)}\\)$`));
    expect(lines).toContainEqual(
      `packs/${pack}: content does not match its hash (breaks ${ids.other.slice(0, 12)})`,
    );
    expect(lines.some((l) => /^page [0-9a-f]{64}: /.test(l))).toBe(true);
    expect(r.stdout).not.toContain(ids.base.slice(0, 12));
    expect(r.stderr).toBe(`vkc: ${lines.length} damaged objects in ${url}, 1 image of 3 broken\n`);

    const json = await vkc("images", "verify", "--json", "--store", url);
    expect(json.status).toBe(1);
    const events = jsonLines(json.stdout);
    expect(events.at(-1)).toMatchObject({ event: "verify", ok: false, damagedImages: [ids.other] });
    expect(events.filter((e) => e.event === "problem")).toContainEqual({
      event: "problem",
      object: `packs/${pack}`,
      problem: "content does not match its hash",
      images: [ids.other],
    });

    // the other images are intact
    expect((await vkc("images", "verify", "latest", "--store", url)).status).toBe(0);
  });
});

describe("vkc images gc", () => {
  test("an orphan pack is condemned first and deleted only once the grace period allows", async () => {
    const { url, dir, ids } = await fileStore();
    const manifest = await createImageStore(await openStore(url)).readManifest(ids.other);
    const pack = `packs/${manifest.packs[0]!}`;
    const file = join(dir, "packs@", manifest.packs[0]!);
    expect((await vkc("images", "rm", ids.other, "--store", url)).status).toBe(0);

    const first = await vkc("images", "gc", "--store", url);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(
      `condemned ${pack}\ngc: 0 objects deleted (0 B freed), 1 object unreachable for less than the grace period (1h), 2 objects in use\n`,
    );
    const second = await vkc("images", "gc", "--store", url);
    expect(second.stdout).toMatch(/^condemned /);
    expect(existsSync(file)).toBe(true);

    const dry = await vkc("images", "gc", "--dry-run", "--grace", "0", "--store", url);
    expect(dry.stdout).toMatch(
      new RegExp(`^would delete ${pack}\\ngc \\(dry run\\): 1 object would be deleted, 2 objects in use\\n$`),
    );
    expect(existsSync(file)).toBe(true);

    const last = await vkc("images", "gc", "--grace", "0", "--json", "--store", url);
    expect(last.status).toBe(0);
    const [event] = jsonLines(last.stdout);
    expect(event).toMatchObject({
      event: "gc",
      dryRun: false,
      graceMs: 0,
      deleted: [pack],
      condemned: [],
      reachable: 2,
    });
    expect(event!.bytesFreed).toBeGreaterThan(12 * 4096 - 1);
    expect(existsSync(file)).toBe(false);
    expect((await vkc("images", "verify", "--store", url)).status).toBe(0);
  });

  test("a bad --grace is a usage error", async () => {
    expectFailure(
      await vkc("images", "gc", "--grace", "soon", "--store", "memory:x"),
      2,
      /--grace.*duration/,
    );
  });
});

describe("vkc images copy, rm, tag", () => {
  test("copy brings an image and its ancestors, skips what the target has, and reports bytes and objects", async () => {
    const { url, ids } = await fileStore();
    const target = `memory:copy-${counter++}`;
    const r = await vkc("images", "copy", "latest", "--to", target, "--store", url);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^copied 2 images \\[${ids.base.slice(0, 12)}, ${ids.child.slice(0, 12)}\\], 2 packs \\(1 skipped\\), 0 blobs, \\d+ KiB to ${target} \\(tagged latest\\)\\n$`,
      ),
    );
    const again = await vkc("images", "copy", "latest", "--json", "--to", target, "--store", url);
    expect(jsonLines(again.stdout)).toEqual([
      expect.objectContaining({
        event: "copy",
        images: [],
        imagesSkipped: [ids.base, ids.child],
        bytesCopied: 0,
      }),
    ]);
    const other = await vkc(
      "images",
      "copy",
      ids.other,
      "--no-parents",
      "--json",
      "--to",
      target,
      "--store",
      url,
    );
    expect(jsonLines(other.stdout)[0]).toMatchObject({ images: [ids.other], packsCopied: 1 });
    expect(jsonLines(other.stdout)[0]?.tag).toBeUndefined(); // an id names no ref
    const verify = await vkc("images", "verify", "--store", target);
    expect(verify.stdout).toMatch(/^ok: 3 images/);
    // The ref named as IMAGE came along: `restore latest --store TARGET` finds the copy.
    const listed = jsonLines((await vkc("images", "ls", "--json", "--store", target)).stdout);
    expect(listed.find((e) => e.id === ids.child)?.refs).toEqual(["latest"]);
    expect(listed.find((e) => e.id === ids.other)?.refs).toEqual([]);
  });

  test("copy needs --to, and a bad target URL is one line", async () => {
    const { url } = await fileStore();
    expectFailure(await vkc("images", "copy", "latest", "--store", url), 2, /required option '--to <url>'/);
    expectFailure(
      await vkc("images", "copy", "latest", "--to", "ftp://x/y", "--store", url),
      2,
      /unknown store scheme 'ftp:'/,
    );
  });

  test("rm drops an image and its refs; removing it again fails", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "rm", "latest", "--store", url);
    expect(r).toEqual({ status: 0, stdout: `removed ${ids.child.slice(0, 12)} (refs latest)\n`, stderr: "" });
    const ls = await vkc("images", "ls", "--json", "--store", url);
    expect(jsonLines(ls.stdout).map((e) => e.id)).toEqual([ids.base, ids.other]);
    expectFailure(
      await vkc("images", "rm", ids.child, "--store", url),
      1,
      new RegExp(`image ${ids.child.slice(0, 12)}: not found`),
    );
    const json = await vkc("images", "remove", "base", "--json", "--store", url);
    expect(jsonLines(json.stdout)).toEqual([{ event: "removed", id: ids.base, refs: ["base"] }]);
  });

  test("tag points a ref at an image; tag --delete removes it", async () => {
    const { url, ids } = await fileStore();
    const r = await vkc("images", "tag", "keep", ids.other.slice(0, 5), "--store", url);
    expect(r).toEqual({ status: 0, stdout: `tagged keep -> ${ids.other.slice(0, 12)}\n`, stderr: "" });
    expect((await vkc("images", "show", "keep", "--store", url)).stdout).toMatch(/ cat \/bin\/cat/);
    const ls = await vkc("images", "ls", "--store", url);
    expect(ls.stdout).toMatch(new RegExp(`${ids.other.slice(0, 12)}.*\\[keep\\]`));
    const del = await vkc("images", "tag", "--delete", "keep", "--json", "--store", url);
    expect(jsonLines(del.stdout)).toEqual([{ event: "untagged", name: "keep", id: ids.other }]);
    expectFailure(await vkc("images", "show", "keep", "--store", url), 1, /image "keep"/);
  });

  test("tag errors: unknown ref to delete, missing image, bad name, unknown image", async () => {
    const { url } = await fileStore();
    expectFailure(
      await vkc("images", "tag", "--delete", "nope", "--store", url),
      1,
      /ref "nope": not found in store/,
    );
    expectFailure(await vkc("images", "tag", "keep", "--store", url), 2, /tag needs NAME and IMAGE/);
    expectFailure(
      await vkc("images", "tag", "-d", "keep", "latest", "--store", url),
      2,
      /--delete takes only/,
    );
    expectFailure(
      await vkc("images", "tag", "bad/name", "latest", "--store", url),
      1,
      /ref "bad\/name": names are/,
    );
    expectFailure(await vkc("images", "tag", "keep", "beef00", "--store", url), 1, /image "beef00"/);
  });
});

describe("signed images", () => {
  test("--sign-key and VKC_SIGN_KEY check manifest signatures", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vkc-images-signed-"));
    const url = `file:${dir}`;
    await writeSampleImages(url, { signKey: "s3cret" });
    const good = await vkc("images", "show", "latest", "--sign-key", "s3cret", "--store", url);
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/^signed \(HMAC-SHA256\)$/m);

    vi.stubEnv("VKC_SIGN_KEY", "wrong");
    expectFailure(await vkc("images", "show", "latest", "--store", url), 1, /signature/);
    const ls = await vkc("images", "ls", "--json", "--store", url);
    expect(ls.status).toBe(0);
    for (const e of jsonLines(ls.stdout)) expect(String(e.damaged)).toMatch(/signature/);
    const verify = await vkc("images", "verify", "--sign-key", "s3cret", "--store", url);
    expect(verify.status).toBe(0);

    // an unsigned image is refused when a key is required
    const plain = createImageStore(await openStore(url));
    const { id } = await plain.writeImage(draft({ comm: "plain" }), pages(), { refs: [] });
    expectFailure(
      await vkc("images", "show", id, "--sign-key", "s3cret", "--store", url),
      1,
      /signature|signed/,
    );
  });
});

describe("help", () => {
  test("every subcommand has help with examples", async () => {
    for (const argv of [
      ["images", "--help"],
      ...["ls", "show", "diff", "verify", "gc", "copy", "rm", "tag"].map((sub) => ["images", sub, "--help"]),
      ["s3mock", "--help"],
      ["s3mock", "serve", "--help"],
    ]) {
      const r = await vkc(...argv);
      expect(r.status, argv.join(" ")).toBe(0);
      expect(r.stdout, argv.join(" ")).toMatch(/\nExamples:\n {2}\$ vkc /);
    }
    const top = await vkc("--help");
    expect(top.stdout).toMatch(/\n {2}images /);
    expect(top.stdout).toMatch(/\n {2}s3mock /);
  });
});

describe("store URLs", () => {
  test("bad URLs and unknown schemes are usage errors (exit 2)", async () => {
    expectFailure(await vkc("images", "ls", "--store", "gopher:x"), 2, /unknown store scheme 'gopher:'/);
    expectFailure(await vkc("images", "ls", "--store", "s3:///prefix"), 2, /names no valid bucket/);
    expectFailure(
      await vkc("images", "ls", "--store", "s3://vkc/", "--s3-endpoint", "localhost:9"),
      2,
      /bad S3 endpoint/,
    );
  });

  test("a memory: store lives for the process, so images written before are listed", async () => {
    const name = `memory:shared-${counter++}`;
    const images = createImageStore(await openStore(name));
    const { id } = await images.writeImage(draft(), pages());
    const r = await vkc("images", "ls", "--json", "--store", name);
    expect(jsonLines(r.stdout).map((e) => e.id)).toEqual([id]);
  });
});
