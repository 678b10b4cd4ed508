import { main } from "./main.ts";

// vkc supports Node 20; the AWS SDK's notice about its future Node 22 requirement is for
// developers, not for people running vkc.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

process.exitCode = await main(process.argv.slice(2));
