// An OCI image layout, read from a folder or from a tar of one (what `skopeo copy …
// oci-archive:` writes), behind one small interface: a few top-level files, and where each
// blob's bytes are. Nothing here trusts the layout: blobs are verified by blobs.ts before use.
//
// An archive is read once up front, to index its entries (name → byte range in the file) and
// hash every blob on the way, so that blobs are then read in place (no copy on disk) and
// verifying one costs nothing more.
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { lstat, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { entryPath, keyOf } from "./entry-path.ts";
import { refuse } from "./refusal.ts";

/** Where a blob's bytes are: `size` bytes of the file at `path`, from `start`. */
export interface BlobRange {
  path: string;
  start: number;
  size: number;
  /** `sha256:<hex>` of those bytes when already known (an archive hashes them while indexing). */
  digest?: string;
}

export interface LayoutSource {
  /** How the layout is named in messages: "the folder …" or "the archive …". */
  readonly label: string;
  /** A top-level file (`oci-layout`, `index.json`), or undefined when it is missing. */
  readFile(name: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Where the blob with this `sha256:<hex>` digest is, or undefined when the layout lacks it. */
  locate(digest: string): Promise<BlobRange | undefined>;
}

/** Entries an archive may hold: a layout has one per blob, a few hundred at most in practice. */
const MAX_ARCHIVE_ENTRIES = 100_000;
/** Top-level files kept in memory while indexing an archive; larger ones are refused when read. */
const MAX_KEPT_FILE_BYTES = 4 * 1024 * 1024;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const TOP_LEVEL_FILES = new Set(["oci-layout", "index.json"]);

/** What to read: a layout folder, or a tar archive of one; `ref` picks one of several images. */
export interface OciImageSource {
  kind: "layout" | "archive";
  path: string;
  ref?: string;
}

export async function openLayoutSource(source: OciImageSource, signal: AbortSignal): Promise<LayoutSource> {
  const { kind, path } = source;
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw refuse(`The image ${kind} ${path} does not exist`);
    throw error;
  });
  if (kind === "layout") {
    if (!info.isDirectory()) throw refuse(`The image layout ${path} is not a folder${info.isFile() ? " (an archive is kind 'archive')" : ""}`);
    return folderSource(path);
  }
  if (!info.isFile()) throw refuse(`The image archive ${path} is not a file${info.isDirectory() ? " (a folder is kind 'layout')" : ""}`);
  return archiveSource(path, signal);
}

function folderSource(folder: string): LayoutSource {
  return {
    label: `the folder ${folder}`,
    async readFile(name, maxBytes) {
      return readWholeFile(join(folder, name), maxBytes, `${name} in ${folder}`);
    },
    async locate(digest) {
      const path = join(folder, "blobs", ...digest.split(":"));
      const info = await lstat(path).catch(() => undefined);
      // Only a regular file: a blob that is a symlink could point anywhere on this host.
      return info?.isFile() ? { path, start: 0, size: info.size } : undefined;
    },
  };
}

async function readWholeFile(path: string, maxBytes: number, what: string): Promise<Buffer | undefined> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw refuse(`${what} is a symlink; a layout's files must be regular files`);
    throw error;
  }
  try {
    const info = await file.stat();
    if (!info.isFile()) throw refuse(`${what} is not a regular file`);
    if (info.size > maxBytes) throw refuse(`${what} is ${info.size} bytes, more than the ${maxBytes} allowed`);
    return await file.readFile();
  } finally {
    await file.close();
  }
}

interface ArchiveEntry {
  start: number;
  size: number;
  digest: string;
  content?: Buffer;
}

async function archiveSource(archive: string, signal: AbortSignal): Promise<LayoutSource> {
  const entries = await indexArchive(archive, signal);
  return {
    label: `the archive ${archive}`,
    async readFile(name, maxBytes) {
      const entry = entries.get(name);
      if (!entry) return undefined;
      if (entry.size > maxBytes || !entry.content) throw refuse(`${name} in ${archive} is ${entry.size} bytes, more than the ${maxBytes} allowed`);
      return entry.content;
    },
    async locate(digest) {
      const entry = entries.get(`blobs/${digest.replace(":", "/")}`);
      return entry && { path: archive, start: entry.start, size: entry.size, digest: entry.digest };
    },
  };
}

async function indexArchive(archive: string, signal: AbortSignal): Promise<Map<string, ArchiveEntry>> {
  const head = Buffer.alloc(2);
  const file = await open(archive, "r");
  try {
    await file.read(head, 0, 2, 0);
  } finally {
    await file.close();
  }
  if (head.equals(GZIP_MAGIC)) throw refuse(`${archive} is gzip-compressed: decompress it first (gunzip), an OCI archive is a plain tar`);

  const entries = new Map<string, ArchiveEntry>();
  const reader = extract();
  reader.on("entry", (header, body, next) => {
    const index = async () => {
      const parsed = entryPath(header.name);
      const name = parsed.ok ? keyOf(parsed.components) : undefined;
      // Only regular files can be blobs or layout files; anything else is read past.
      const wanted = name !== undefined && (header.type === "file" || header.type === "contiguous-file");
      if (!wanted) {
        for await (const _ of body);
        return;
      }
      if (entries.has(name)) throw refuse(`${archive} holds ${name} twice`);
      if (entries.size >= MAX_ARCHIVE_ENTRIES) throw refuse(`${archive} holds more than ${MAX_ARCHIVE_ENTRIES} files`);
      const keep = TOP_LEVEL_FILES.has(name) && header.size <= MAX_KEPT_FILE_BYTES;
      const hash = createHash("sha256");
      const chunks: Uint8Array[] = [];
      for await (const data of body) {
        const chunk = data as Uint8Array; // tar-stream's bodies yield Buffers (typed unknown by streamx)
        hash.update(chunk);
        if (keep) chunks.push(chunk);
      }
      // The data follows the entry's own 512-byte header (pax or long-name headers come before it).
      entries.set(name, {
        start: body.offset + 512,
        size: header.size,
        digest: `sha256:${hash.digest("hex")}`,
        content: keep ? Buffer.concat(chunks) : undefined,
      });
    };
    index().then(() => next(), next);
  });
  try {
    await pipeline(createReadStream(archive, { highWaterMark: 1024 * 1024 }), reader, { signal });
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof Error && "code" in error && error.code === "IMAGE_INVALID") throw error;
    if (error instanceof Error && "syscall" in error) throw error;
    throw refuse(`${archive} is not a tar archive of an OCI image layout (${error instanceof Error ? error.message : String(error)})`);
  }
  return entries;
}
