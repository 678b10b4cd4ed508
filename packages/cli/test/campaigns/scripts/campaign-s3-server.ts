import { createS3Server } from "@vkc/backend-s3mock";
import { CAMPAIGN_BUCKET, CAMPAIGN_CREDENTIALS } from "../campaign-stores.ts";

/** `campaign-s3-server.ts DIR`: the S3 server on DIR in its own process; prints `listening <url>`. */

const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: campaign-s3-server.ts DIR");
const server = await createS3Server({ dir, credentials: [CAMPAIGN_CREDENTIALS], buckets: [CAMPAIGN_BUCKET] });
process.stdout.write(`listening ${server.url}\n`);
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
