/**
 * `vkc images show --html` and `vkc images diff --html` rendered in real headless Chromium: the
 * page loads with no console errors or failed requests, draws its page maps, and the numbers in
 * it match `--json`. Chromium is a test requirement: without it the test fails with the hint.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { captureIO } from "../io-capture.ts";
import { main } from "../main.ts";

const CHROMIUM = "/usr/bin/chromium";
const GUEST = resolve(import.meta.dirname, "../../../host-kernel/guest/bin");

async function vkc(...argv: string[]) {
  const io = captureIO();
  const status = await main(argv, io);
  return { status, stdout: io.stdout(), stderr: io.stderr() };
}

function json(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let browser: BrowserContext;
let dir: string;
let store: string;
let ids: string[];

/** Open `file` in a fresh page, collecting console errors, page errors and network requests. */
async function open(file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) requests.push(r.url());
  });
  await page.goto(`file://${file}`, { waitUntil: "load", timeout: 30_000 });
  return { page, errors, requests };
}

/** The part of a DOM element the page queries use (the test has no DOM types). */
interface AttrElement {
  getAttribute(name: string): string | null;
}

const num = async (page: Page, selector: string, attr: string): Promise<number> =>
  Number(await page.getAttribute(selector, `data-${attr}`));

describe("HTML pages in headless Chromium", () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install it with 'apt-get install -y chromium' (or scripts/install-tools.sh)`,
      );
    }
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "vkc-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 60_000,
    });
    dir = mkdtempSync(join(tmpdir(), "vkc-html-"));
    store = `file:${join(dir, "store")}`;
    const r = await vkc(
      "run",
      "--store",
      store,
      "--json",
      "--cpus",
      "2",
      "--checkpoint-at",
      "300000,900000",
      `${GUEST}/threads.elf`,
      "3",
      "20000",
    );
    expect(r.stderr).toBe("");
    ids = json(r.stdout)
      .filter((e) => e.event === "checkpoint")
      .map((e) => String(e.image));
    expect(ids).toHaveLength(2);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  test("images show --html: renders cleanly and its numbers match --json", async () => {
    const file = join(dir, "show.html");
    const shown = await vkc("images", "show", ids[1] ?? "", "--store", store, "--html", file, "--json");
    expect(shown.status).toBe(0);
    expect(shown.stderr).toMatch(/^vkc: wrote .*show\.html \(\d+ bytes\); open it in a browser\n$/);
    const [event] = json(shown.stdout);
    const summary = event?.summary as {
      id: string;
      instructions: number;
      totals: Record<string, number>;
      processes: {
        pid: number;
        threads: { tid: number; pc: number }[];
        vmspace: { start: number; pages: Record<string, number> }[];
      }[];
    };
    const registers = event?.registers as { tid: number; regs: Record<string, number> }[];
    expect(readFileSync(file, "utf8")).not.toMatch(/https?:\/\//);

    const { page, errors, requests } = await open(file);
    expect(await page.getAttribute("body", "data-image")).toBe(summary.id);
    expect(await num(page, "body", "instructions")).toBe(summary.instructions);
    for (const key of ["total", "resident", "zero", "shared", "new"]) {
      expect(await num(page, "body", `total-${key === "total" ? "pages" : key}`)).toBe(summary.totals[key]);
    }
    for (const p of summary.processes) {
      const section = `section.process[data-pid="${p.pid}"]`;
      expect(await num(page, section, "threads")).toBe(p.threads.length);
      const entries = await page.$$eval(`${section} .entry`, (els: AttrElement[]) =>
        els.map((e) =>
          Object.fromEntries(
            ["start", "total", "resident", "zero", "shared", "new"].map((k) => [
              k,
              e.getAttribute(`data-${k}`),
            ]),
          ),
        ),
      );
      expect(entries).toHaveLength(p.vmspace.length);
      p.vmspace.forEach((e, k) => {
        const shownEntry = entries[k] ?? {};
        expect(Number(shownEntry.start)).toBe(e.start);
        for (const key of ["total", "resident", "zero", "shared", "new"]) {
          expect(Number(shownEntry[key])).toBe(e.pages[key]);
        }
      });
      for (const t of p.threads) {
        expect(await num(page, `${section} tr[data-tid="${t.tid}"]`, "pc")).toBe(t.pc);
        const sp = await page.textContent(`${section} tr[data-tid="${t.tid}"] + tr div[data-reg="sp"]`);
        const expected = registers.find((r) => r.tid === t.tid)?.regs.sp ?? -1;
        expect(sp).toBe(`sp0x${expected.toString(16).padStart(8, "0")}`);
      }
    }
    // The script drew every page map: canvases are sized to their pages.
    const canvases = await page.$$eval("canvas.pagemap", (els: AttrElement[]) =>
      els.map((c) => ({
        w: Number(c.getAttribute("width")),
        pages: c.getAttribute("data-pages")?.length ?? 0,
      })),
    );
    expect(canvases.length).toBeGreaterThan(0);
    for (const c of canvases) if (c.pages > 1) expect(c.w).toBeGreaterThan(1);
    expect(await page.textContent("body")).toContain("console tty");
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);

  test("images diff --html: renders cleanly and its page counts match --json", async () => {
    const file = join(dir, "diff.html");
    const r = await vkc(
      "images",
      "diff",
      ids[0] ?? "",
      ids[1] ?? "",
      "--store",
      store,
      "--html",
      file,
      "--json",
    );
    expect(r.status).toBe(0);
    const [event] = json(r.stdout);
    const diff = event as unknown as {
      pages: Record<string, number>;
      instructions: { from: number; to: number };
      objects: { id: number; added: number; changed: number; removed: number }[];
      processes: {
        changed: { pid: number; threads: { changed: { tid: number; registers: unknown[] }[] } }[];
      };
    };
    const { page, errors, requests } = await open(file);
    for (const key of ["added", "changed", "removed"]) {
      expect(await num(page, "body", `pages-${key}`)).toBe(diff.pages[key]);
    }
    expect(await num(page, "body", "instructions-to")).toBe(diff.instructions.to);
    for (const o of diff.objects) {
      const row = `tr[data-object="${o.id}"]`;
      expect(await num(page, row, "added")).toBe(o.added);
      expect(await num(page, row, "changed")).toBe(o.changed);
      expect(await num(page, row, "removed")).toBe(o.removed);
    }
    for (const p of diff.processes.changed) {
      for (const t of p.threads.changed) {
        expect(
          await num(page, `section.process[data-pid="${p.pid}"] .thread[data-tid="${t.tid}"]`, "registers"),
        ).toBe(t.registers.length);
      }
    }
    expect((diff.pages.added ?? 0) + (diff.pages.changed ?? 0)).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);

  test("a vkernel image's page has a vkernel section whose numbers match --json", async () => {
    const vkStore = `file:${join(dir, "vk-store")}`;
    const booted = await vkc(
      "boot",
      "--store",
      vkStore,
      "--vcpus",
      "2",
      "--memory",
      "2M",
      "--checkpoint-at",
      "200000",
      "--exit-after-checkpoint",
      "--console",
      join(dir, "vk.txt"),
      "--",
      `${GUEST}/threads.elf`,
      "4",
      "2000",
    );
    expect(booted.status, booted.stderr).toBe(0);
    const file = join(dir, "vk.html");
    const shown = await vkc("images", "show", "latest", "--store", vkStore, "--html", file, "--json");
    expect(shown.status).toBe(0);
    const vk = json(shown.stdout)[0]?.vkernel as {
      vcpus: number;
      memoryBytes: number;
      residentPages: number;
      processes: { pid: number; threads: { tid: number; regs: Record<string, number> }[] }[];
    };
    expect(vk).toMatchObject({ vcpus: 2, memoryBytes: 2 * 1024 * 1024 });
    const { page, errors, requests } = await open(file);
    expect(await num(page, "section#vkernel", "vk-vcpus")).toBe(vk.vcpus);
    expect(await num(page, "section#vkernel", "vk-memory-bytes")).toBe(vk.memoryBytes);
    expect(await num(page, "section#vkernel", "vk-resident-pages")).toBe(vk.residentPages);
    expect(await page.textContent("section#vkernel")).toContain("guest 0/guest/0/threads.elf 4 2000");
    // One row per virtual thread, with the registers --json has.
    expect(await num(page, "section#vkernel", "vk-processes")).toBe(vk.processes.length);
    const threads = vk.processes.flatMap((p) => p.threads.map((t) => ({ pid: p.pid, ...t })));
    expect(threads.length).toBeGreaterThan(1);
    expect(await page.$$eval("tr.vk-thread", (els: AttrElement[]) => els.length)).toBe(threads.length);
    for (const t of threads) {
      const pc = await page.textContent(
        `tr.vk-thread[data-pid="${t.pid}"][data-tid="${t.tid}"] td:nth-child(6)`,
      );
      expect(pc).toBe(`0x${(t.regs.pc ?? -1).toString(16).padStart(8, "0")}`);
    }
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);

  test("a process-tree image (forkdemo): the page nests each child under its parent, as --json has them", async () => {
    const treeStore = `file:${join(dir, "tree-store")}`;
    const common = ["--json", "--cpus", "2", "--seed", "5", "--console", join(dir, "fork.txt")];
    const whole = await vkc("run", ...common, `${GUEST}/forkdemo.elf`, "3");
    expect(whole.status, whole.stderr).toBe(0);
    const at = Math.floor(Number(json(whole.stdout).find((e) => e.event === "exit")?.instructions) / 2);
    const ckpt = ["--store", treeStore, "--checkpoint-at", String(at), "--exit-after-checkpoint"];
    const first = await vkc("run", ...common, ...ckpt, `${GUEST}/forkdemo.elf`, "3");
    expect(first.status, first.stderr).toBe(0);
    const file = join(dir, "tree.html");
    const shown = await vkc("images", "show", "latest", "--store", treeStore, "--html", file, "--json");
    expect(shown.status).toBe(0);
    const summary = json(shown.stdout)[0]?.summary as {
      processes: { pid: number; ppid: number; threads: unknown[] }[];
    };
    const pids = new Set(summary.processes.map((p) => p.pid));
    const children = summary.processes.filter((p) => pids.has(p.ppid) && p.ppid !== p.pid);
    expect(children.length).toBeGreaterThan(0);
    const { page, errors, requests } = await open(file);
    const tree = "ul.tree";
    expect(await page.$$eval(`${tree} li`, (els: AttrElement[]) => els.length)).toBe(
      summary.processes.length,
    );
    for (const c of children) {
      const nested = `${tree} li:has(> a[href="#proc-${c.ppid}"]) > ul > li > a[href="#proc-${c.pid}"]`;
      expect(await page.$$eval(nested, (els: AttrElement[]) => els.length), `pid ${c.pid}`).toBe(1);
      expect(await num(page, `section.process[data-pid="${c.pid}"]`, "threads")).toBe(c.threads.length);
    }
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);

  test("an HTML file that cannot be written is one line saying what to do", async () => {
    const r = await vkc(
      "images",
      "show",
      ids[0] ?? "",
      "--store",
      store,
      "--html",
      join(dir, "no", "such", "x.html"),
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^vkc: cannot write HTML page .*x\.html: ENOENT \(check the directory exists and is writable\)\n$/,
    );
  });
});
