import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { errors } from "./server-errors.ts";

/**
 * The flexible checksums S3 clients send (`x-amz-checksum-<algorithm>`, as a header or an
 * aws-chunked trailer). CRC32, CRC32C, SHA1 and SHA256 are verified; CRC64NVME is stored
 * as sent (not verified).
 */

export type ChecksumAlgorithm = "CRC32" | "CRC32C" | "SHA1" | "SHA256" | "CRC64NVME";
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  "CRC32",
  "CRC32C",
  "SHA1",
  "SHA256",
  "CRC64NVME",
];

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as on the wire. */
  value: string;
}

let crc32cTable: Uint32Array | undefined;

/** Bytes to check: one buffer, or the chunks a body arrived in (hashed in order, never joined). */
export type Bytes = Uint8Array | readonly Uint8Array[];

function chunksOf(data: Bytes): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

function crc32c(data: Bytes): number {
  if (crc32cTable === undefined) {
    crc32cTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crc32cTable[n] = c >>> 0;
    }
  }
  const table = crc32cTable;
  let crc = 0xffffffff;
  for (const chunk of chunksOf(data)) {
    for (let i = 0; i < chunk.length; i++)
      crc = (table[(crc ^ (chunk[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function digest(algorithm: string, data: Bytes, encoding: "hex" | "base64"): string {
  const hash = createHash(algorithm);
  for (const chunk of chunksOf(data)) hash.update(chunk);
  return hash.digest(encoding);
}

function u32Base64(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString("base64");
}

/** The checksum of `data` (base64), or `undefined` for an algorithm this server does not compute. */
export function computeChecksum(algorithm: ChecksumAlgorithm, data: Bytes): string | undefined {
  switch (algorithm) {
    case "CRC32": {
      let crc = 0;
      for (const chunk of chunksOf(data)) crc = crc32(chunk, crc);
      return u32Base64(crc);
    }
    case "CRC32C":
      return u32Base64(crc32c(data));
    case "SHA1":
      return digest("sha1", data, "base64");
    case "SHA256":
      return digest("sha256", data, "base64");
    default:
      return undefined;
  }
}

export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** Find the checksum sent with a request (headers and trailers, lower-case names). */
export function findChecksum(fields: ReadonlyMap<string, string>): Checksum | undefined {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = fields.get(checksumHeaderName(algorithm));
    if (value !== undefined) return { algorithm, value: value.trim() };
  }
  return undefined;
}

/**
 * Throw BadDigest when `checksum` does not match `data`. `crc32`: the data's CRC32 when it was
 * computed already (used for a CRC32 checksum instead of hashing the data again).
 */
export function verifyChecksum(checksum: Checksum, data: Bytes, crc32?: number): void {
  const actual =
    checksum.algorithm === "CRC32" && crc32 !== undefined
      ? u32Base64(crc32)
      : computeChecksum(checksum.algorithm, data);
  if (actual !== undefined && actual !== checksum.value) badDigest(checksum.algorithm);
}

function badDigest(what: string): never {
  throw errors.badDigest(what);
}

/** Verify a Content-MD5 header (base64 of the MD5) against `data`, or against its MD5 (hex) when known. */
export function verifyContentMd5(header: string, data: Bytes | string): void {
  const sent = Buffer.from(header.trim(), "base64");
  if (sent.length !== 16) throw errors.invalidDigest();
  const actual = typeof data === "string" ? data : digest("md5", data, "hex");
  if (sent.toString("hex") !== actual) badDigest("Content-MD5");
}

export function md5Hex(data: Bytes): string {
  return digest("md5", data, "hex");
}
