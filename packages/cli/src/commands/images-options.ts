import type { CliIO } from "../main.ts";
import type { StoreContext, StoreFlags } from "../stores/store-session.ts";

/** Flags every `vkc images` subcommand takes: `--store`, `--sign-key`, `--s3-endpoint`, `--json`. */
export interface ImagesCommandOptions extends StoreFlags {
  json?: boolean;
}

/** Where a `vkc images` subcommand runs: its output, environment and working directory. */
export interface ImagesContext extends StoreContext {
  io: CliIO;
}
