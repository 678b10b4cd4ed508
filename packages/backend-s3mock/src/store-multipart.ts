import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

/**
 * A small multipart uploader: CreateMultipartUpload, then up to `queueSize` UploadPart
 * requests in flight, then CompleteMultipartUpload (optionally with If-None-Match: *).
 * Any failure aborts the upload, so no parts are left behind.
 */

export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  key: string;
  queueSize: number;
  /** Complete only if the key does not exist yet (If-None-Match: *). */
  ifAbsent: boolean;
  metadata: Record<string, string>;
}

/** Cut a stream of chunks into parts of exactly `partSize` bytes (the last may be shorter). */
export async function* cutParts(
  chunks: AsyncIterable<Uint8Array>,
  partSize: number,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(partSize);
  let filled = 0;
  for await (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(partSize - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === partSize) {
        yield buffer;
        buffer = new Uint8Array(partSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/** Upload `parts` (each but the last at least 5 MiB) as one object. */
export async function uploadMultipart(
  target: MultipartTarget,
  parts: AsyncIterable<Uint8Array>,
): Promise<void> {
  const { client, bucket, key } = target;
  const created = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: target.metadata }),
  );
  const uploadId = created.UploadId as string;
  const done: CompletedPart[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;

  const launch = (partNumber: number, body: Uint8Array) => {
    const p: Promise<void> = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
        }),
      )
      .then(
        (r) => {
          done[partNumber - 1] = { PartNumber: partNumber, ETag: r.ETag as string };
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  try {
    let partNumber = 0;
    for await (const part of parts) {
      if (failure) break;
      launch(++partNumber, part);
      while (inflight.size >= target.queueSize) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (failure) throw failure.error;
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
        ...(target.ifAbsent ? { IfNoneMatch: "*" } : {}),
      }),
    );
  } catch (err) {
    await Promise.allSettled(inflight);
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  }
}
