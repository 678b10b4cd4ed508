import type { CodecLimits } from "../codec/codec-limits.ts";
import { decodeManifest } from "../codec/codec-manifest.ts";
import { IntegrityError, NotFoundError } from "../image-errors.ts";
import type { ImageId } from "../model/model-values.ts";
import { type ImageStoreCore, manifestBlobKeys, sha256Hex } from "./image-store.ts";
import type { CopyOptions, CopyReport, ImageStore } from "./image-store-types.ts";
import { walkParentChain } from "./store-chain.ts";
import { BLOBS, manifestKey, PACKS, packKey, writeKey } from "./store-keys.ts";
import { MarkerHandle, newToken } from "./store-markers.ts";
import { checkPack } from "./store-pack-check.ts";

/** Whether a pack or blob's bytes match the hash its key names (FORMAT.md §5 for packs). */
function contentMatchesKey(key: string, bytes: Uint8Array, limits: CodecLimits): boolean {
  if (!key.startsWith(PACKS)) return sha256Hex(bytes) === key.slice(BLOBS.length);
  try {
    const check = checkPack(key.slice(PACKS.length), bytes, key, limits);
    return check.keyMatches && check.damaged.length === 0;
  } catch {
    return false; // a malformed header
  }
}

/**
 * Copy an image (and by default its ancestors present in the source) to another image store:
 * each pack and blob the target lacks, verified against its hash on the way, under a write
 * marker in the target, then the manifest last, so the target never holds a half image.
 */
export async function copyImage(
  source: ImageStoreCore,
  ref: string,
  target: ImageStore,
  options: CopyOptions,
): Promise<CopyReport> {
  const id = await source.resolve(ref);
  let ids: ImageId[] = [id];
  if (options.parents ?? true) {
    const walk = await walkParentChain(
      id,
      async (x) => {
        if (!(await source.blobs.has(manifestKey(x)))) return null;
        return (await source.loadManifest(x)).parent;
      },
      source.limits.maxChainDepth,
    );
    ids = [...walk.chain].reverse();
  }
  const into = target.blobStore;
  const targetNow = (target as Partial<ImageStoreCore>).now ?? Date.now;
  const images: ImageId[] = [];
  const imagesSkipped: ImageId[] = [];
  let packsCopied = 0;
  let packsSkipped = 0;
  let blobsCopied = 0;
  let bytesCopied = 0;

  for (const imageId of ids) {
    if (await into.has(manifestKey(imageId))) {
      imagesSkipped.push(imageId);
      continue;
    }
    const envelope = await source.manifestBytes(imageId);
    if (envelope === undefined) throw new NotFoundError(`image ${imageId.slice(0, 12)}`);
    const manifest = await source.loadManifest(imageId);
    const keys = [...manifest.packs.map(packKey), ...manifestBlobKeys(manifest)];
    const marker = new MarkerHandle(into, writeKey(newToken(targetNow())), targetNow);
    await marker.add(keys);
    try {
      for (const key of keys) {
        if (await into.has(key)) {
          if (key.startsWith(PACKS)) packsSkipped++;
          continue;
        }
        const bytes = await source.blobs.get(key);
        if (bytes === undefined) throw new NotFoundError(key, `needed by image ${imageId.slice(0, 12)}`);
        if (!contentMatchesKey(key, bytes, source.limits)) {
          throw new IntegrityError(key, "content does not match its hash");
        }
        await into.put(key, bytes);
        bytesCopied += bytes.length;
        if (key.startsWith(PACKS)) packsCopied++;
        else blobsCopied++;
      }
      decodeManifest(envelope, { expectedId: imageId });
      await into.put(manifestKey(imageId), envelope);
      bytesCopied += envelope.length;
      images.push(imageId);
    } finally {
      await marker.release();
    }
  }
  return { images, imagesSkipped, packsCopied, packsSkipped, blobsCopied, bytesCopied };
}
