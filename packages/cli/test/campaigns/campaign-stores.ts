import type { BlobStore } from "@vkc/checkpoint";

/**
 * Store specs the campaigns pass to child processes: `file:DIR`, or `s3:ENDPOINT` with the
 * credentials in `VKC_CAMPAIGN_KEY` / `VKC_CAMPAIGN_SECRET` (bucket `vkc`, prefix `images`).
 */

export const CAMPAIGN_CREDENTIALS = { accessKeyId: "AKIDCAMPAIGN", secretAccessKey: "campaign-secret-key" };
export const CAMPAIGN_BUCKET = "vkc";

export async function openSpec(spec: string, options: { maxAttempts?: number } = {}): Promise<BlobStore> {
  // Imported lazily: a file-store writer child starts faster without the AWS SDK.
  if (spec.startsWith("file:")) {
    const { createFileStore } = await import("@vkc/backend-file");
    return createFileStore({ root: spec.slice("file:".length), fsync: false });
  }
  if (spec.startsWith("s3:")) {
    const { createS3Store } = await import("@vkc/backend-s3mock");
    return createS3Store({
      bucket: CAMPAIGN_BUCKET,
      prefix: "images",
      endpoint: spec.slice("s3:".length),
      region: "us-east-1",
      credentials: CAMPAIGN_CREDENTIALS,
      maxAttempts: options.maxAttempts ?? 3,
      requestTimeoutMs: 5_000,
    });
  }
  throw new Error(`unknown campaign store spec '${spec}'`);
}
