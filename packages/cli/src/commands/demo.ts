import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestProgramPath } from "@vkc/host-kernel";
import { CliError } from "../errors.ts";
import { captureIO } from "../io-capture.ts";
import { type CliIO, main } from "../main.ts";
import { referenceRun as runGuest } from "./demo-ckpt.ts";

function lastLine(text: string, pattern: RegExp): string {
  return (
    text
      .split("\n")
      .filter((l) => pattern.test(l))
      .pop() ?? "(missing)"
  );
}

/**
 * `vkc demo`: the tour. Runs the example guests on the host kernel and shows what vkc does:
 * real RISC-V programs, threads on several simulated CPUs, and determinism (same seed and
 * input, same final machine state, bit for bit).
 */
export async function demo({ io }: { io: CliIO }): Promise<number> {
  const shown: string[] = [];
  const say = (text: string) => io.out(`${text}\n`);

  say("== 1. A RISC-V program on the vkc host kernel (hello)");
  const hello = await runGuest("hello", ["from", "the", "demo"], 1, 1);
  io.out(hello.output.replace(/^(?=.)/gm, "   | "));
  say(`   exit ${hello.status}, ${hello.instructions} instructions retired`);
  shown.push("a static RV32IMA ELF runs on the simulated host kernel");

  say("\n== 2. Threads on 1, 2 and 4 simulated CPUs, two seeds each (threads 4 2000)");
  const checksums = new Set<string>();
  const digests = new Set<string>();
  for (const cpus of [1, 2, 4]) {
    for (const seed of [1, 2]) {
      const r = await runGuest("threads", ["4", "2000"], cpus, seed);
      if (r.status !== 0)
        throw new CliError("DEMO_FAILED", `threads on ${cpus} CPUs, seed ${seed} exited ${r.status}`);
      const checksum = lastLine(r.output, /checksum/);
      checksums.add(checksum);
      digests.add(r.digest);
      say(
        `   cpus ${cpus} seed ${seed}: ${checksum.trim()}  (${r.instructions} instructions, state ${r.digest.slice(0, 12)})`,
      );
    }
  }
  if (checksums.size !== 1)
    throw new CliError("DEMO_FAILED", "threads gave different checksums across CPUs and seeds");
  shown.push(
    `4 threads with TLS, masks, mutexes and condvars agree on one checksum over 6 schedules (${digests.size} distinct interleavings)`,
  );

  say("\n== 3. Determinism: the same seed twice gives the same final machine state");
  const a = await runGuest("threads", ["4", "2000"], 4, 7);
  const b = await runGuest("threads", ["4", "2000"], 4, 7);
  say(`   run 1: ${a.digest}\n   run 2: ${b.digest}`);
  if (a.digest !== b.digest || a.output !== b.output) {
    throw new CliError("DEMO_FAILED", "two runs with the same seed differ");
  }
  shown.push(
    "same seed and input → identical registers, memory and descriptors (SHA-256 of the machine state)",
  );

  say("\n== 4. Signals: handlers, masks, altstack, a recovered SIGSEGV (sigdemo)");
  const sig = await runGuest("sigdemo", [], 1, 1);
  const checks = sig.output.split("\n").filter((l) => /: ok$/.test(l)).length;
  say(`   ${checks} checks ok; ${lastLine(sig.output, /^sigdemo:/)} (exit ${sig.status})`);
  shown.push("Linux-compatible signal frames, sigreturn, masks and altstacks");

  say("\n== 5. Compute (primes 200000)");
  const primes = await runGuest("primes", ["200000"], 1, 1);
  say(`   ${lastLine(primes.output, /count/).trim()}, ${primes.instructions} instructions`);

  say("\n== 6. Checkpoint, kill -9, restore in a new process (threads 4 40000 on 2 CPUs)");
  const { checkpointKillRestore } = await import("./demo-ckpt.ts");
  const referenceRun = runGuest;
  const threadArgs = ["4", "40000"];
  const reference = await referenceRun("threads", threadArgs, 2, 3);
  const at = Math.floor(reference.instructions * 0.4);
  say(
    `   uninterrupted: exit ${reference.status}, ${reference.instructions} instructions, state ${reference.digest.slice(0, 12)}`,
  );
  for (const [label, store] of [
    ["file store", (dir: string) => `file:${dir}/store`],
    ["embedded S3 server", (dir: string) => `s3mock:${dir}/s3`],
  ] as const) {
    const r = await checkpointKillRestore("threads", threadArgs, 2, 3, at, store, reference);
    say(
      `   ${label} (${r.store}): image ${r.image.slice(0, 12)} at ${r.checkpointAt} instructions, ` +
        `writer ${r.killed ? "killed with SIGKILL" : "had already exited"}; restored in a new process: ` +
        `exit ${r.restoredStatus}, state ${r.restoredDigest.slice(0, 12)}: ${r.matches ? "identical to the uninterrupted run" : "DIFFERENT"}`,
    );
    if (!r.matches)
      throw new CliError(
        "DEMO_FAILED",
        `the run restored from the ${label} differs from the uninterrupted run`,
      );
  }
  shown.push(
    "a multithreaded program checkpointed, killed with SIGKILL, restored in a new OS process from a file store and from the embedded S3 server, finishing exactly as an uninterrupted run (output, exit status, machine state)",
  );

  say("\n== 7. Incremental checkpoints, a diff, and HTML reports (memtouch 4 MiB, 2% per round)");
  const reports = join(tmpdir(), "vkc-demo");
  await rm(reports, { recursive: true, force: true });
  await mkdir(reports, { recursive: true });
  const store = `file:${join(reports, "store")}`;
  const quiet = captureIO();
  const memtouch = guestProgramPath("memtouch");
  // 20 rounds, each dirtying ~2% of the pages, in the first ~1.2M instructions (then a long
  // read-only checksum pass): checkpoints between rounds see only what the rounds since dirtied.
  const memArgs = ["4", "2", "20"];
  const instants = "300000,600000,900000";
  const ran = await main(
    [
      "run",
      "--json",
      "--store",
      store,
      "--checkpoint-at",
      instants,
      "--console",
      join(reports, "memtouch.txt"),
      memtouch,
      ...memArgs,
    ],
    quiet,
  );
  const written = quiet
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event: string; pagesWritten?: number; bytesWritten?: number })
    .filter((e) => e.event === "checkpoint");
  if (ran !== 0 || written.length < 2) {
    throw new CliError("DEMO_FAILED", `memtouch with periodic checkpoints failed: ${quiet.stderr().trim()}`);
  }
  const [full, ...incremental] = written;
  say(
    `   ${written.length} images: the first (full) wrote ${full?.pagesWritten} pages; the incremental ones ` +
      `${incremental.map((e) => e.pagesWritten).join(", ")} pages (only those dirtied since their parent)`,
  );
  const showHtml = join(reports, "latest.html");
  const diffHtml = join(reports, "diff.html");
  for (const argv of [
    ["images", "show", "latest", "--store", store, "--html", showHtml],
    ["images", "diff", "latest^", "latest", "--store", store, "--html", diffHtml],
  ]) {
    const out = captureIO();
    if ((await main(argv, out)) !== 0)
      throw new CliError("DEMO_FAILED", `vkc ${argv.join(" ")}: ${out.stderr().trim()}`);
  }
  const diff = captureIO();
  await main(["images", "diff", "latest^", "latest", "--store", store], diff);
  say(
    `   ${
      diff
        .stdout()
        .split("\n")
        .find((l) => l.startsWith("pages:")) ?? ""
    } (vkc images diff latest^ latest)`,
  );
  say(`   HTML reports: ${showHtml}\n                 ${diffHtml}`);
  shown.push(
    "incremental checkpoints write only dirtied pages; images can be diffed and viewed as HTML pages",
  );

  await vkernelSteps(say, shown, reports);

  say("\nvkc demo showed:");
  for (const line of shown) say(`  - ${line}`);
  say(`The HTML reports and the image stores of steps 7 and 9 are in ${reports}.`);
  return 0;
}

/**
 * Step 8: the same threads binary as a virtual process of a 2-vCPU vkernel (same output as on the
 * host); then a vkernel with threads and a UDP echo pair on its vke (udpecho, udpping), checkpointed
 * with SIGCKPT in a new vkc process, killed with SIGKILL once the image is committed, restored in
 * another new process from the file store and from the embedded S3 server, and compared with an
 * uninterrupted boot.
 */
async function vkernelSteps(say: (text: string) => void, shown: string[], reports: string): Promise<void> {
  const { bootRun, bootWords, vkernelKillRestore } = await import("./demo-vkernel.ts");
  const args = ["4", "3000"];
  say(`\n== 8. A vkernel with 2 vCPUs running threads ${args.join(" ")} as its virtual process`);
  const host = await runGuest("threads", args, 2, 1);
  const alone = await bootRun({ vcpus: 2, guests: [{ name: "threads", args }] });
  say(`   on the host:    exit ${host.status}, ${lastLine(host.output, /checksum/).trim()}`);
  say(
    `   in the vkernel: exit ${alone.status}, ${lastLine(alone.output, /checksum/).trim()} (${alone.instructions} host instructions)`,
  );
  if (alone.output !== host.output || alone.status !== host.status) {
    throw new CliError(
      "DEMO_FAILED",
      "threads printed or exited differently in the vkernel than on the host",
    );
  }
  shown.push(
    "the same RISC-V binary runs unchanged as a virtual process of a 2-vCPU vkernel, with the same output",
  );

  const spec = {
    vcpus: 2,
    flags: ["--tap", "tap0:10.0.0.2/24"],
    guests: [
      { name: "udpecho", args: ["7", "3"] },
      { name: "threads", args: ["4", "2000"] },
      { name: "udpping", args: ["10.0.0.2", "7", "3"] },
    ],
  } as const;
  say(
    "\n== 9. A vkernel (2 vCPUs, vke on tap0) running udpecho, threads and udpping: checkpoint, kill -9, restore",
  );
  const booted = await bootRun(spec);
  say(
    `   uninterrupted: exit ${booted.status}, ${lastLine(booted.output, /^udpping:/)}, ${booted.instructions} host instructions`,
  );
  const at = Math.floor(booted.instructions * 0.4);
  for (const [label, store] of [
    ["file store", (dir: string) => `file:${dir}/store`],
    ["embedded S3 server", (dir: string) => `s3mock:${dir}/s3`],
  ] as const) {
    const r = await vkernelKillRestore(spec, at, store, booted);
    say(
      `   ${label} (${r.store}): image ${r.image.slice(0, 12)} at ${r.checkpointAt} host instructions (SIGCKPT), ` +
        `writer ${r.killed ? "killed with SIGKILL" : "had already exited"}; restored in a new process: ` +
        `exit ${r.restoredStatus}: ${r.matches ? "identical to the uninterrupted run" : "DIFFERENT"}`,
    );
    if (!r.matches) {
      throw new CliError(
        "DEMO_FAILED",
        `the vkernel restored from the ${label} differs from the uninterrupted boot`,
      );
    }
  }
  // The same instant into the reports' store, and its page: the vkernel's own view of itself.
  const store = `file:${join(reports, "vkernel-store")}`;
  const html = join(reports, "vkernel.html");
  const quiet = captureIO();
  const flags = ["--store", store, "--checkpoint-at", String(at), "--exit-after-checkpoint"];
  const consoleFlags = ["--console", join(reports, "vkernel.txt")];
  if (
    (await main(bootWords(spec, [...flags, ...consoleFlags]), quiet)) !== 0 ||
    (await main(["images", "show", "latest", "--store", store, "--html", html], quiet)) !== 0
  ) {
    throw new CliError("DEMO_FAILED", `the vkernel image's HTML report: ${quiet.stderr().trim()}`);
  }
  say(`   HTML report of the vkernel image (its virtual processes, threads, registers): ${html}`);
  shown.push(
    "a 2-vCPU vkernel with a multithreaded guest and a UDP echo pair checkpointed by its own protocol, killed with SIGKILL, restored in a new OS process from a file store and from the embedded S3 server, finishing exactly as an uninterrupted boot",
  );
}
