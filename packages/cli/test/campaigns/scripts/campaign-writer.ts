import { createImageStore } from "@vkc/checkpoint";
import { sampleDraft, samplePages } from "../campaign-images.ts";
import { openSpec } from "../campaign-stores.ts";

/**
 * The crash and load campaigns' writer: `campaign-writer.ts MODE STORE [SOURCE|FIRST] [COUNT]`.
 *   write: writes sample images from number FIRST (every other one incremental), `committed <id>`
 *          each, forever or COUNT of them (then `done`)
 *   copy:  copies every image of SOURCE into STORE, `copied <id>` each
 *   gc:    runs gc with grace 0 in a loop (50 ms apart), `gc <deleted>` each
 * It prints `ready` first. The crash campaign SIGKILLs it at a random moment.
 */

const [mode, spec, third, fourth] = process.argv.slice(2);
if (mode === undefined || spec === undefined)
  throw new Error("usage: campaign-writer.ts MODE STORE [SOURCE] [FIRST]");
const images = createImageStore(await openSpec(spec), { packTargetBytes: 16 * 1024 });
const say = (line: string) => process.stdout.write(`${line}\n`);

if (mode === "write") {
  const first = Number(third ?? 0);
  const end = fourth === undefined ? Number.POSITIVE_INFINITY : first + Number(fourth);
  say("ready");
  let parent: string | undefined;
  for (let n = first; n < end; n++) {
    const { id } = await images.writeImage(sampleDraft(n, n % 2 === 1 ? parent : undefined), samplePages(n), {
      refs: [],
    });
    parent = id;
    say(`committed ${id}`);
  }
  say("done");
} else if (mode === "copy") {
  if (third === undefined) throw new Error("copy needs a SOURCE store");
  const source = createImageStore(await openSpec(third));
  const listed = await source.list();
  say("ready");
  for (const { id } of listed) {
    await source.copy(id, images);
    say(`copied ${id}`);
  }
  say("done");
} else if (mode === "gc") {
  say("ready");
  for (;;) {
    const report = await images.gc({ graceMs: 0 });
    say(`gc ${report.deleted.length}`);
    await new Promise((r) => setTimeout(r, 50)); // leave the CPUs to the writers between runs
  }
} else {
  throw new Error(`unknown mode '${mode}'`);
}
