import { createMemoryStore, StoreIOError } from "@vkc/checkpoint";
import { describe, expect, test } from "vitest";
import { CliError } from "../errors.ts";
import {
  missingCredentials,
  networkFailure,
  StoreCredentialsError,
  StoreUnreachableError,
  withEndpointErrors,
  withRelease,
} from "./store-errors.ts";

function refused(): Error {
  const socket = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
  return new StoreIOError("s3://vkc", "get", "refs/latest", { cause: socket });
}

describe("store errors", () => {
  test("networkFailure finds a socket error anywhere in the cause chain", () => {
    expect(networkFailure(refused())).toBe("connection refused (ECONNREFUSED)");
    expect(networkFailure(Object.assign(new Error("x"), { code: "ENOTFOUND" }))).toBe(
      "unknown host (ENOTFOUND)",
    );
    expect(networkFailure(new Error("plain"))).toBeUndefined();
    expect(networkFailure(undefined)).toBeUndefined();
  });

  test("withEndpointErrors turns unreachable-server failures into one line naming the endpoint", async () => {
    const inner = createMemoryStore();
    const failing = {
      ...inner,
      name: "s3://vkc",
      get: async () => {
        throw refused();
      },
      list: async function* () {
        yield* [];
        throw refused();
      },
      has: async () => {
        throw new Error("something else");
      },
    };
    const store = withEndpointErrors(failing, "http://127.0.0.1:9");
    const error = await store.get("refs/latest").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnreachableError);
    expect(CliError.isInstance(error)).toBe(true);
    expect((error as CliError).exitCode).toBe(1);
    expect((error as Error).message).toBe(
      "cannot reach S3 endpoint http://127.0.0.1:9 for store s3://vkc: connection refused (ECONNREFUSED)",
    );
    const listed = (async () => {
      for await (const _ of store.list("")) {
        // nothing
      }
    })();
    await expect(listed).rejects.toBeInstanceOf(StoreUnreachableError);
    await expect(store.has("x")).rejects.toThrow("something else");
    // the rest passes through
    await store.put("a", new Uint8Array([1]));
    expect(await store.getRange("a", 0, 1)).toEqual(new Uint8Array([1]));
    expect(typeof (store as { putStream?: unknown }).putStream).toBe("function");
  });

  test("no credentials: one line saying which variables to set", async () => {
    const noCredentials = Object.assign(new Error("Could not load credentials from any providers"), {
      name: "CredentialsProviderError",
    });
    const wrapped = new StoreIOError("s3://vkc", "list", "manifests/", { cause: noCredentials });
    expect(missingCredentials(wrapped)).toBe(true);
    expect(missingCredentials(new Error("x"))).toBe(false);
    const store = withEndpointErrors(
      {
        ...createMemoryStore(),
        name: "s3://vkc",
        head: async () => {
          throw wrapped;
        },
      },
      "http://127.0.0.1:9",
    );
    const error = await store.head("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreCredentialsError);
    expect((error as Error).message).toBe(
      "no S3 credentials for store s3://vkc: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
    );
  });

  test("withRelease runs the release once, after closing the store", async () => {
    const order: string[] = [];
    const inner = { ...createMemoryStore(), close: async () => void order.push("store") };
    const store = withRelease(inner, async () => void order.push("server"));
    await store.put("k", new Uint8Array([7]));
    expect(await store.get("k")).toEqual(new Uint8Array([7]));
    await store.close?.();
    await store.close?.();
    expect(order).toEqual(["store", "server"]);
  });
});
