import { mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// The AWS SDK warns once per process that future versions need Node 22; keep test output readable.
export default mergeConfig(shared, {
  test: { env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } },
});
