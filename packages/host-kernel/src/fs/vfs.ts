import { EACCES, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOTDIR, ESPIPE } from "../syscall/errno.ts";
import type { DeviceHost, DeviceNode, FileOps, OpenFileState } from "./file-types.ts";
import {
  O_ACCMODE,
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_TRUNC,
  POLLIN,
  POLLOUT,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from "./file-types.ts";

/** A regular file: bytes [0, size) of `data` (which grows by doubling). */
export interface VfsRegular {
  readonly type: "file";
  data: Uint8Array;
  size: number;
  /** Imported host files are read-only. */
  readonly readonly: boolean;
}

export interface VfsDirectory {
  readonly type: "dir";
  readonly children: Map<string, VfsNode>;
}

export interface VfsDevice {
  readonly type: "dev";
  readonly device: DeviceNode;
}

export type VfsNode = VfsRegular | VfsDirectory | VfsDevice;

const MAX_PATH = 4096;

/**
 * The kernel's in-memory file system: directories, regular files and device nodes, rooted at
 * "/". There is no cwd other than "/" (relative paths resolve from the root).
 */
export class Vfs {
  readonly root: VfsDirectory = { type: "dir", children: new Map() };

  /** The components of `path`, or -errno. */
  private split(path: string): string[] | number {
    if (path.length === 0) return -ENOENT;
    if (path.length >= MAX_PATH) return -ENAMETOOLONG;
    const parts: string[] = [];
    for (const p of path.split("/")) {
      if (p === "" || p === ".") continue;
      if (p === "..") parts.pop();
      else parts.push(p);
    }
    return parts;
  }

  /** The node at `path`, or -errno. */
  lookup(path: string): VfsNode | number {
    const parts = this.split(path);
    if (typeof parts === "number") return parts;
    let node: VfsNode = this.root;
    for (const p of parts) {
      if (node.type !== "dir") return -ENOTDIR;
      const next = node.children.get(p);
      if (next === undefined) return -ENOENT;
      node = next;
    }
    return node;
  }

  /** The parent directory of `path` and the last component, or -errno. */
  private parent(path: string): { dir: VfsDirectory; name: string } | number {
    const parts = this.split(path);
    if (typeof parts === "number") return parts;
    const name = parts.pop();
    if (name === undefined) return -EISDIR;
    let node: VfsNode = this.root;
    for (const p of parts) {
      if (node.type !== "dir") return -ENOTDIR;
      const next = node.children.get(p);
      if (next === undefined) return -ENOENT;
      node = next;
    }
    if (node.type !== "dir") return -ENOTDIR;
    return { dir: node, name };
  }

  /** mkdir -p. */
  mkdirs(path: string): VfsDirectory {
    const parts = this.split(path);
    if (typeof parts === "number") throw new RangeError(`bad path ${path}`);
    let dir = this.root;
    for (const p of parts) {
      let next = dir.children.get(p);
      if (next === undefined) {
        next = { type: "dir", children: new Map() };
        dir.children.set(p, next);
      }
      if (next.type !== "dir") throw new RangeError(`${path}: ${p} is not a directory`);
      dir = next;
    }
    return dir;
  }

  /** Create (or replace) a file with `bytes`; parents are created. */
  writeFile(path: string, bytes: Uint8Array, readonly = false): VfsRegular {
    const parts = this.split(path);
    if (typeof parts === "number" || parts.length === 0) throw new RangeError(`bad path ${path}`);
    const name = parts.pop() as string;
    const dir = this.mkdirs(`/${parts.join("/")}`);
    const file: VfsRegular = { type: "file", data: bytes.slice(), size: bytes.length, readonly };
    dir.children.set(name, file);
    return file;
  }

  /** The contents of a regular file, or undefined. */
  readFile(path: string): Uint8Array | undefined {
    const node = this.lookup(path);
    if (typeof node === "number" || node.type !== "file") return undefined;
    return node.data.subarray(0, node.size);
  }

  registerDevice(path: string, device: DeviceNode): void {
    const parts = this.split(path);
    if (typeof parts === "number" || parts.length === 0) throw new RangeError(`bad path ${path}`);
    const name = parts.pop() as string;
    this.mkdirs(`/${parts.join("/")}`).children.set(name, { type: "dev", device });
  }

  /** openat(2) path semantics: FileOps for a new open file, or -errno. */
  open(path: string, flags: number, host: DeviceHost): FileOps | number {
    const acc = flags & O_ACCMODE;
    let node = this.lookup(path);
    if (node === -ENOENT && (flags & O_CREAT) !== 0) {
      const where = this.parent(path);
      if (typeof where === "number") return where;
      node = { type: "file", data: new Uint8Array(0), size: 0, readonly: false };
      where.dir.children.set(where.name, node);
    } else if (typeof node !== "number" && (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) {
      return -EEXIST;
    }
    if (typeof node === "number") return node;
    if (node.type === "dev") return node.device.open(flags, host);
    if ((flags & O_DIRECTORY) !== 0 && node.type !== "dir") return -ENOTDIR;
    if (node.type === "dir") return acc === O_RDONLY ? new DirectoryOps() : -EISDIR;
    if (acc !== O_RDONLY && node.readonly) return -EACCES;
    if ((flags & O_TRUNC) !== 0 && acc !== O_RDONLY) node.size = 0;
    return new RegularFileOps(node, path);
  }
}

/** An open regular file. */
export class RegularFileOps implements FileOps {
  readonly kind = "vnode";
  constructor(
    readonly node: VfsRegular,
    readonly path: string,
  ) {}

  read(file: OpenFileState, buf: Uint8Array): number {
    const n = Math.max(0, Math.min(buf.length, this.node.size - file.offset));
    buf.set(this.node.data.subarray(file.offset, file.offset + n));
    file.offset += n;
    return n;
  }

  write(file: OpenFileState, data: Uint8Array): number {
    const node = this.node;
    if ((file.flags & O_APPEND) !== 0) file.offset = node.size;
    const end = file.offset + data.length;
    if (end > node.data.length) {
      const grown = new Uint8Array(Math.max(end, node.data.length * 2, 64));
      grown.set(node.data.subarray(0, node.size));
      node.data = grown;
    }
    if (file.offset > node.size) node.data.fill(0, node.size, file.offset);
    node.data.set(data, file.offset);
    file.offset = end;
    node.size = Math.max(node.size, end);
    return data.length;
  }

  lseek(file: OpenFileState, offset: number, whence: number): number {
    const base =
      whence === SEEK_SET
        ? 0
        : whence === SEEK_CUR
          ? file.offset
          : whence === SEEK_END
            ? this.node.size
            : NaN;
    if (Number.isNaN(base)) return -EINVAL;
    const pos = base + offset;
    if (pos < 0 || !Number.isSafeInteger(pos)) return -EINVAL;
    file.offset = pos;
    return pos;
  }

  poll(): number {
    return POLLIN | POLLOUT;
  }

  close(): void {}
}

/** An open directory (readable only through getdents, which vkc does not have yet). */
class DirectoryOps implements FileOps {
  readonly kind = "dir";
  read(): number {
    return -EISDIR;
  }
  write(): number {
    return -EISDIR;
  }
  lseek(): number {
    return -ESPIPE;
  }
  poll(): number {
    return 0;
  }
  close(): void {}
}
