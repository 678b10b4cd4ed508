import { type Command, InvalidArgumentError } from "commander";
import type { CliIO } from "../main.ts";
import { intOption } from "../options.ts";
import type { ImagesCopyOptions } from "./images-copy.ts";
import type { ImagesTagOptions } from "./images-edit.ts";
import { parseDuration } from "./images-format.ts";
import type { ImagesGcOptions } from "./images-gc.ts";
import type { ImagesCommandOptions } from "./images-options.ts";
import type { ImagesDiffOptions, ImagesShowOptions } from "./images-show.ts";
import type { S3mockServeOptions } from "./s3mock-serve.ts";

/** What the registered actions need from `main`: where to write, and how to set the exit status. */
export interface ImageCommandsContext {
  io: CliIO;
  setStatus(code: number): void;
}

const STORE_HELP = `
Store URLs (--store, --to):
  file:PATH            a directory (a bare path works too)
  s3://BUCKET/PREFIX   any S3; endpoint from --s3-endpoint, ?endpoint=URL, AWS_ENDPOINT_URL_S3 or
                       AWS_ENDPOINT_URL; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
  s3mock:DIR           vkc's own S3 server, started in-process on DIR for this command
  memory:NAME          in memory, for this process only
IMAGE is a full id, a unique id prefix (4+ hex digits) or a ref name such as 'latest'.`;

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError("expected a duration such as 0, 90s, 10m, 1h or 2d");
  return ms;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--store`, `--s3-endpoint`, `--sign-key` and `--json`, on every `vkc images` subcommand. */
function storeFlags(command: Command, json = "print results as JSON lines on stdout"): Command {
  return command
    .option("--store <url>", "the image store (default: $VKC_STORE, else file:$XDG_DATA_HOME/vkc/store)")
    .option(
      "--s3-endpoint <url>",
      "endpoint for s3:// stores (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL)",
    )
    .option("--sign-key <key>", "HMAC key manifests must be signed with (default: $VKC_SIGN_KEY)")
    .option("--json", json);
}

function context(io: CliIO) {
  return { io, env: process.env, cwd: process.cwd() };
}

/** Add `vkc images …` and `vkc s3mock serve` to `program`; each action imports its implementation lazily. */
export function registerImageCommands(program: Command, ctx: ImageCommandsContext): void {
  const { io, setStatus } = ctx;
  const images = program
    .command("images")
    .description("list, inspect, verify, copy and garbage-collect checkpoint images in a store")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images                                   list the default store (same as 'vkc images ls')
  $ vkc images show latest                       what the newest image holds
  $ vkc images verify --store s3://vkc/          check every byte of an S3 store
  $ vkc images copy latest --to s3mock:./s3data  copy an image (and its parents) elsewhere
${STORE_HELP}`,
    );

  storeFlags(images.command("ls", { isDefault: true }).alias("list"), "print one JSON object per image")
    .description("list images as a tree of parent chains: id, time, size, program, refs")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images ls
  $ vkc images ls --store file:./images --json
  $ VKC_STORE=s3mock:$HOME/.vkc-s3 vkc images ls`,
    )
    .allowExcessArguments(true) // the default subcommand receives unknown subcommand names
    .action(async (opts: ImagesCommandOptions, command: Command) => {
      const [unknown] = command.args;
      if (unknown !== undefined) {
        const { UsageError } = await import("../errors.ts");
        throw new UsageError(`unknown command '${unknown}' for 'vkc images' (see 'vkc images --help')`);
      }
      const { imagesLs } = await import("./images-ls.ts");
      setStatus(await imagesLs(opts, context(io)));
    });

  storeFlags(images.command("show"), "print the summary and registers as one JSON object")
    .description(
      "show an image: processes, threads (registers, tp, masks), memory map with page counts, descriptors",
    )
    .argument("<image>", "image id, unique id prefix or ref name")
    .option("--no-regs", "leave out each thread's register dump")
    .option("--html <file>", "write a self-contained HTML page (page maps, registers) to FILE instead")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images show latest
  $ vkc images show 3f2a --no-regs
  $ vkc images show latest --json | jq .summary.totals
  $ vkc images show latest --html latest.html     then open latest.html in a browser`,
    )
    .action(async (image: string, opts: ImagesShowOptions) => {
      const { imagesShow } = await import("./images-show.ts");
      setStatus(await imagesShow(image, opts, context(io)));
    });

  storeFlags(images.command("diff"), "print the diff as one JSON object")
    .description("show what changed from image A to image B: processes, threads, registers, mappings, pages")
    .argument("<a>", "the older image")
    .argument("<b>", "the newer image")
    .option("--html <file>", "write a self-contained HTML page of the diff to FILE instead")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images diff base latest
  $ vkc images diff 3f2a 9c1d --json
  $ vkc images diff base latest --html diff.html`,
    )
    .action(async (a: string, b: string, opts: ImagesDiffOptions) => {
      const { imagesDiff } = await import("./images-show.ts");
      setStatus(await imagesDiff(a, b, opts, context(io)));
    });

  storeFlags(images.command("verify"), "print a 'problem' event per damaged object and a 'verify' summary")
    .description(
      "check every pack, page, blob, manifest, ref and parent chain; exit 1 if anything is damaged",
    )
    .argument("[image]", "verify only this image (default: the whole store)")
    .addHelpText(
      "after",
      `
Prints one line per damaged object, naming the images it breaks, and exits 1; or a summary and 0.

Examples:
  $ vkc images verify
  $ vkc images verify latest --store s3://vkc/ci
  $ vkc images verify --json | jq 'select(.event == "problem")'`,
    )
    .action(async (image: string | undefined, opts: ImagesCommandOptions) => {
      const { imagesVerify } = await import("./images-verify.ts");
      setStatus(await imagesVerify(image, opts, context(io)));
    });

  storeFlags(images.command("gc"), "print a 'gc' event")
    .description(
      "delete packs and blobs that no image uses (after a grace period, safe with concurrent writers)",
    )
    .option("-n, --dry-run", "report what would be deleted, change nothing")
    .option(
      "--grace <duration>",
      "delete only what was already unreachable this long ago (default 1h)",
      duration,
    )
    .addHelpText(
      "after",
      `
gc is two-phase: a run condemns what is unreachable, and a later run that finds it still
unreachable at least the grace period later deletes it. Use --grace 0 (with no writer running)
to reclaim space at once with two runs.

Examples:
  $ vkc images gc --dry-run
  $ vkc images gc
  $ vkc images gc --grace 0 && vkc images gc --grace 0`,
    )
    .action(async (opts: ImagesGcOptions) => {
      const { imagesGc } = await import("./images-gc.ts");
      setStatus(await imagesGc(opts, context(io)));
    });

  storeFlags(images.command("copy"), "print a 'copy' event")
    .description("copy an image and its ancestors to another store, skipping what the target already has")
    .argument("<image>", "image id, unique id prefix or ref name")
    .requiredOption("--to <url>", "the target store")
    .option("--no-parents", "copy only the image, not its ancestors")
    .option(
      "--tag <name>",
      "point ref NAME in the target store at the image (default: IMAGE, when it is a ref name)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images copy latest --to s3mock:/tmp/vkc-s3     the target's ref latest points at it too
  $ vkc images copy latest --to s3://vkc/backup --tag nightly
  $ vkc images copy 3f2a --store file:./images --to s3mock:./s3data --json`,
    )
    .action(async (image: string, opts: ImagesCopyOptions) => {
      const { imagesCopy } = await import("./images-copy.ts");
      setStatus(await imagesCopy(image, opts, context(io)));
    });

  storeFlags(images.command("rm").alias("remove"), "print a 'removed' event")
    .description("remove an image and the refs that point at it ('vkc images gc' reclaims its packs)")
    .argument("<image>", "image id, unique id prefix or ref name")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images rm 3f2a
  $ vkc images rm old-run && vkc images gc`,
    )
    .action(async (image: string, opts: ImagesCommandOptions) => {
      const { imagesRm } = await import("./images-edit.ts");
      setStatus(await imagesRm(image, opts, context(io)));
    });

  storeFlags(images.command("tag"), "print a 'tagged' or 'untagged' event")
    .description("point a ref NAME at an image, or delete a ref with --delete")
    .argument("<name>", "ref name ([A-Za-z0-9._-], e.g. base, before-upgrade)")
    .argument("[image]", "image id, unique id prefix or ref name")
    .option("-d, --delete", "delete the ref NAME")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc images tag base latest
  $ vkc images tag --delete base`,
    )
    .action(async (name: string, image: string | undefined, opts: ImagesTagOptions) => {
      const { imagesTag } = await import("./images-edit.ts");
      setStatus(await imagesTag(name, image, opts, context(io)));
    });

  const s3mock = program
    .command("s3mock")
    .description("vkc's S3-compatible object store server")
    .addHelpText(
      "after",
      `
Examples:
  $ vkc s3mock serve --dir ./s3data
  $ VKC_STORE=s3mock:./s3data vkc images ls     the same server, started in-process per command`,
    );
  s3mock
    .command("serve")
    .description("run the S3-compatible server in the foreground until Ctrl-C or SIGTERM")
    .option("--port <n>", "TCP port (0: a free one)", intOption("--port", 0, 65535), 9000)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--dir <dir>", "keep objects in this directory (default: in memory)")
    .option("--access-key <key>", "access key id clients must use (default: generated)")
    .option("--secret-key <key>", "secret access key (default: generated)")
    .option("--bucket <name>", "bucket to create at start, repeatable (default: vkc)", collect)
    .option("--region <region>", "region clients sign for", "us-east-1")
    .option("--json", "print 'listening' and 'stopped' events on stdout")
    .addHelpText(
      "after",
      `
Prints one line on stderr with the URL and the environment variables to give clients.

Examples:
  $ vkc s3mock serve --dir ./s3data
  $ vkc s3mock serve --port 0 --json
  $ vkc s3mock serve --access-key dev --secret-key devsecret --bucket vkc --bucket backup
  $ AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=dev AWS_SECRET_ACCESS_KEY=devsecret \\
      vkc images ls --store s3://vkc/`,
    )
    .action(async (opts: S3mockServeOptions) => {
      const { s3mockServe } = await import("./s3mock-serve.ts");
      setStatus(await s3mockServe(opts, { io, cwd: process.cwd() }));
    });
}
