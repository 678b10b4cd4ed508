import { main } from "../../../src/main.ts";

/**
 * The CLI itself as a campaign child (`campaign-vkc.ts ARGS…` = `vkc ARGS…`), run by node and not
 * the tsx launcher so that a SIGKILL hits the process doing the checkpoints.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
process.exitCode = await main(process.argv.slice(2));
