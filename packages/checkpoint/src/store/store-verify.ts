import type { Manifest } from "../model/model-manifest.ts";
import type { ImageId, Sha256Hex } from "../model/model-values.ts";
import { type ImageStoreCore, manifestBlobKeys, pageMapEntries, sha256Hex } from "./image-store.ts";
import type { VerifyProblem, VerifyReport } from "./image-store-types.ts";
import { walkParentChain } from "./store-chain.ts";
import { BLOBS, MANIFESTS, manifestKey, packKey, refKey } from "./store-keys.ts";
import { checkPack } from "./store-pack-check.ts";

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Check images (one, or every image and ref): manifest digest and signature, every pack's
 * hash and header, every page's hash, that every page of an image is in one of its packs,
 * standalone blobs, parent chains. Each problem names the damaged object and the images it
 * breaks. Reads every byte once; pack contents are fetched whole.
 */
export async function verifyImages(store: ImageStoreCore, ref?: string): Promise<VerifyReport> {
  const problems = new Map<string, { problem: string; images: Set<ImageId> }>();
  const report = (object: string, problem: string, images: Iterable<ImageId>): void => {
    const existing = problems.get(`${object}\n${problem}`);
    if (existing === undefined) problems.set(`${object}\n${problem}`, { problem, images: new Set(images) });
    else for (const id of images) existing.images.add(id);
  };

  const ids: ImageId[] = [];
  if (ref !== undefined) ids.push(await store.resolve(ref));
  else for await (const key of store.blobs.list(MANIFESTS)) ids.push(key.slice(MANIFESTS.length));

  const manifests = new Map<ImageId, Manifest>();
  for (const id of ids) {
    try {
      manifests.set(id, await store.loadManifest(id, { fresh: true }));
    } catch (error) {
      report(manifestKey(id), message(error), [id]);
    }
  }

  // parent chains
  const parentCache = new Map<ImageId, ImageId | undefined | null>();
  const parentOf = async (id: ImageId): Promise<ImageId | undefined | null> => {
    if (parentCache.has(id)) return parentCache.get(id)!;
    let parent: ImageId | undefined | null;
    const known = manifests.get(id);
    if (known !== undefined) parent = known.parent;
    else if (!(await store.blobs.has(manifestKey(id)))) parent = null;
    else {
      try {
        parent = (await store.loadManifest(id, { verifySignature: false, fresh: true })).parent;
      } catch (error) {
        parent = undefined;
        // An ancestor outside the images being verified is reported here; the others are
        // reported when they are verified themselves.
        if (!manifests.has(id) && !ids.includes(id)) report(manifestKey(id), message(error), [id]);
      }
    }
    parentCache.set(id, parent);
    return parent;
  };
  for (const [id, m] of manifests) {
    if (m.parent === undefined) continue;
    try {
      // A removed ancestor is allowed (images list every pack they need); loops and depth are not.
      await walkParentChain(id, parentOf, store.limits.maxChainDepth);
    } catch (error) {
      report(manifestKey(id), message(error), [id]);
    }
  }

  // packs: which images use each
  const users = new Map<Sha256Hex, ImageId[]>();
  for (const [id, m] of manifests) for (const p of m.packs) users.set(p, [...(users.get(p) ?? []), id]);
  const contents = new Map<Sha256Hex, Set<Sha256Hex>>();
  let pages = 0;
  for (const [pack, imageIds] of users) {
    const key = packKey(pack);
    const hashes = new Set<Sha256Hex>();
    contents.set(pack, hashes);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await store.blobs.get(key);
    } catch (error) {
      report(key, message(error), imageIds);
      continue;
    }
    if (bytes === undefined) {
      report(key, "missing", imageIds);
      continue;
    }
    try {
      const check = checkPack(pack, bytes, key, store.limits, { everyPage: true });
      // A damaged payload breaks the pack as a whole too: its key commits to every payload.
      if (!check.keyMatches || check.damaged.length > 0) {
        report(key, "content does not match its hash", imageIds);
      }
      const damaged = new Set(check.damaged);
      for (const entry of check.header.entries) {
        pages++;
        if (damaged.has(entry)) {
          report(`page ${entry.hash}`, `content in ${key} does not match its hash`, imageIds);
        } else {
          hashes.add(entry.hash);
        }
      }
    } catch (error) {
      report(key, message(error), imageIds);
    }
  }

  // every page of an image is in one of its packs
  for (const [id, m] of manifests) {
    const available = m.packs.map((p) => contents.get(p) ?? new Set<Sha256Hex>());
    for (const o of m.objects) {
      for (const [index, hash] of pageMapEntries(o.pages)) {
        if (!available.some((set) => set.has(hash))) {
          report(`page ${hash}`, `page ${index} of object ${o.id}: in no intact pack of the image`, [id]);
        }
      }
    }
  }

  // standalone blobs
  const blobUsers = new Map<string, ImageId[]>();
  for (const [id, m] of manifests)
    for (const k of manifestBlobKeys(m)) blobUsers.set(k, [...(blobUsers.get(k) ?? []), id]);
  for (const [key, imageIds] of blobUsers) {
    const bytes = await store.blobs.get(key);
    if (bytes === undefined) report(key, "missing", imageIds);
    else if (sha256Hex(bytes) !== key.slice(BLOBS.length))
      report(key, "content does not match its hash", imageIds);
  }

  // refs (whole-store verify only)
  if (ref === undefined) {
    const present = new Set(ids);
    for await (const key of store.blobs.list("refs/")) {
      const name = key.slice("refs/".length);
      try {
        const id = await store.readRef(name);
        if (id !== undefined && !present.has(id))
          report(refKey(name), `points at missing image ${id.slice(0, 12)}`, []);
      } catch (error) {
        report(refKey(name), message(error), []);
      }
    }
  }

  const list: VerifyProblem[] = [...problems.entries()].map(([k, v]) => ({
    object: k.slice(0, k.indexOf("\n")),
    problem: v.problem,
    images: [...v.images].sort(),
  }));
  const damaged = new Set<ImageId>();
  for (const p of list) for (const id of p.images) damaged.add(id);
  return {
    ok: list.length === 0,
    images: ids.length,
    packs: users.size,
    pages,
    blobs: blobUsers.size,
    problems: list,
    damagedImages: [...damaged].sort(),
  };
}
