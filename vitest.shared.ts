import { defineConfig } from "vitest/config";

/**
 * Shared vitest settings. Sibling packages resolve to their sources through the
 * `@vkc/source` export condition, so tests need no build.
 */
export default defineConfig({
  resolve: { conditions: ["@vkc/source"] },
  ssr: { resolve: { conditions: ["@vkc/source"] } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The AWS SDK's notice about its future Node 22 requirement is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
