import { describe, expect, test } from "vitest";
import { UsageError } from "../errors.ts";
import { parseS3Url } from "./store-s3.ts";

const at = (env: NodeJS.ProcessEnv = {}, s3Endpoint?: string) => ({
  env,
  cwd: "/",
  ...(s3Endpoint === undefined ? {} : { s3Endpoint }),
});

describe("parseS3Url", () => {
  test("bucket, prefix and region; no endpoint means AWS", () => {
    expect(parseS3Url("s3://vkc/ci/run-1/", at())).toEqual({
      bucket: "vkc",
      prefix: "ci/run-1",
      endpoint: undefined,
      region: "us-east-1",
    });
    expect(parseS3Url("s3://vkc", at({ AWS_REGION: "eu-west-3" }))).toMatchObject({
      prefix: "",
      region: "eu-west-3",
    });
  });

  test("endpoint: --s3-endpoint, then ?endpoint=, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL", () => {
    const env = { AWS_ENDPOINT_URL: "http://a:1", AWS_ENDPOINT_URL_S3: "http://b:2" };
    expect(parseS3Url("s3://vkc/?endpoint=http://c:3", at(env, "http://d:4/")).endpoint).toBe("http://d:4");
    expect(parseS3Url("s3://vkc/?endpoint=http://c:3", at(env)).endpoint).toBe("http://c:3");
    expect(parseS3Url("s3://vkc/", at(env)).endpoint).toBe("http://b:2");
    expect(parseS3Url("s3://vkc/", at({ AWS_ENDPOINT_URL: "http://a:1" })).endpoint).toBe("http://a:1");
    expect(parseS3Url("s3://vkc/", at({ AWS_ENDPOINT_URL: "" })).endpoint).toBeUndefined();
  });

  test("a URL without a valid bucket, or a bad endpoint, is a usage error", () => {
    for (const [url, s3Endpoint, message] of [
      ["s3:///x", undefined, /names no valid bucket/],
      ["s3://UPPER/x", undefined, /names no valid bucket/],
      ["s3://vkc/a%zz", undefined, /malformed %-escape/],
      ["s3://vkc/x", "127.0.0.1:9000", /bad S3 endpoint "127.0.0.1:9000"/],
      ["s3://vkc/x", "ftp://host", /bad S3 endpoint/],
    ] as const) {
      let caught: unknown;
      try {
        parseS3Url(url, at({}, s3Endpoint));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UsageError);
      expect((caught as Error).message).toMatch(message);
    }
  });
});
