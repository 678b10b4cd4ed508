import type { S3BlobStore } from "../store-s3.ts";

/** `n` pseudo-random bytes from `seed` (a linear congruential generator: the same every run). */
export function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Record the headers of every request `store` sends from now on (after signing). */
export function headersOf(store: S3BlobStore): Record<string, string>[] {
  const seen: Record<string, string>[] = [];
  store.client.middlewareStack.add(
    (next) => async (args) => {
      seen.push({ ...(args.request as { headers: Record<string, string> }).headers });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low" },
  );
  return seen;
}
