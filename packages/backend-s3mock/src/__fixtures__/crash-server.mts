// Child process for the crash test: serves a directory and prints its URL, until killed.
import { createS3Server } from "../server.ts";

const [dir, accessKeyId, secretAccessKey] = process.argv.slice(2) as [string, string, string];
const server = await createS3Server({ dir, credentials: [{ accessKeyId, secretAccessKey }], buckets: ["crash"] });
process.stdout.write(`${server.url}\n`);
