export { CliError, UsageError } from "./errors.ts";
export { type CliIO, main } from "./main.ts";
export { VERSION } from "./version.ts";
