// POST /v1/files/archive?path=: a tar archive in the body, unpacked into a folder (made,
// with its parents, when missing) as it streams in; the body is read only as fast as the
// disk takes it. The answer comes once the archive ended: what was unpacked, and what was
// skipped (FIFOs, devices and other kinds a folder need not hold).
//
// Refused, with the whole upload (entries before stay unpacked): an absolute name or one
// with `..`; an entry that would be written through a symlink (each folder is opened with
// O_NOFOLLOW through its parent's descriptor, so `link -> /etc` followed by `link/passwd`
// fails); a symlink whose target leads outside the workspace and home; a hard link to
// anything but a regular file unpacked into this folder. Files are written to a temporary
// name and renamed into place, so a reader never sees half a file.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, lstat, mkdir, open, readlink, rename, symlink, unlink } from "node:fs/promises";
import { posix } from "node:path";
import type { ArchiveSummary } from "../../protocol.ts";
import { MAX_ARCHIVE_SKIPPED, MAX_FILE_PATH_CHARS } from "../../protocol-schemas.ts";
import { invalid, SupervisorError } from "../errors.ts";
import type { Handler } from "../http-types.ts";
import { giveToUser } from "../identity.ts";
import { sendJson } from "../respond.ts";
import { ByteReader, UnexpectedEndError } from "./byte-reader.ts";
import { type Confinement, fdPath, fsError, inDir, OPEN_DIRECTORY, outside } from "./confine.ts";
import { onlyParams } from "./query.ts";
import { BLOCK, cString, decodeHeader, decodePax, invalidArchive, isZeroBlock, padding, type TarHeader } from "./tar.ts";
import { checkUploadType, IncompleteUploadError, uploadBytes } from "./upload-body.ts";

/** Folders kept open while unpacking (most archives write many files into few folders). */
const OPEN_FOLDERS = 32;
/** Metadata entries (pax, GNU long names) are small; a bigger one is not a real archive. */
const MAX_META_BYTES = 1024 * 1024;
/** What may follow the end marker (tar pads to 10 KiB records) before the rest is left unread. */
const MAX_TRAILER_BYTES = 1024 * 1024;
const MAX_DEPTH = 256;

export function unpackHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path"]);
    const absolute = confinement.lexical(request.query.get("path"));
    checkUploadType(request);
    const root = await confinement.ensureDirectory(absolute);
    const unpacker = new Unpacker(confinement, root, await realFolder(root), absolute);
    const body = uploadBytes(request);
    try {
      // Reads the body to its eof frame, which proves the upload whole.
      await unpacker.run(new ByteReader(body));
    } catch (error) {
      if (error instanceof IncompleteUploadError) throw invalid("The upload was cancelled before its end; entries unpacked until then stay.");
      if (error instanceof UnexpectedEndError) throw invalidArchive("The archive ends in the middle of an entry.");
      throw error;
    } finally {
      await unpacker.close();
    }
    sendJson(response, 200, unpacker.summary);
  };
}

/** Where an open folder is, as the kernel names it. */
const realFolder = (dir: FileHandle): Promise<string> => readlink(fdPath(dir));

class Unpacker {
  readonly summary: ArchiveSummary;
  /** Open folders below the root by their relative path ("" is the root), least recently used first. */
  readonly #folders = new Map<string, FileHandle>();

  constructor(
    private readonly confinement: Confinement,
    private readonly root: FileHandle,
    /** Where the root is, as the kernel names it: symlink targets are checked against it. */
    private readonly rootReal: string,
    absolute: string,
  ) {
    this.summary = { path: absolute, files: 0, directories: 0, symlinks: 0, hardlinks: 0, bytes: 0, skipped: [], skippedCount: 0 };
  }

  async run(reader: ByteReader): Promise<void> {
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await reader.exactly(BLOCK);
      // The body ended between entries: an archive without its end marker is still whole.
      if (!block) return;
      if (isZeroBlock(block)) {
        // What follows the end (tar pads archives to 10 KiB records) is read and dropped.
        if (!(await reader.drain(MAX_TRAILER_BYTES))) throw invalidArchive("More than 1 MiB of data follows the archive's end.");
        return;
      }
      const header = decodeHeader(block);
      switch (header.kind) {
        case "pax":
          Object.assign(pax, decodePax(await this.#meta(reader, header)));
          continue;
        case "pax-global":
          await reader.skip(header.size + padding(header.size));
          continue;
        case "gnu-longname":
          longName = cString(await this.#meta(reader, header), 0, MAX_META_BYTES);
          continue;
        case "gnu-longlink":
          longLink = cString(await this.#meta(reader, header), 0, MAX_META_BYTES);
          continue;
      }
      const entry: TarHeader = {
        ...header,
        name: pax.path ?? longName ?? header.name,
        linkname: pax.linkpath ?? longLink ?? header.linkname,
        size: pax.size !== undefined ? paxNumber(pax.size, "size") : header.size,
        mtime: pax.mtime !== undefined ? paxNumber(pax.mtime, "mtime") : header.mtime,
      };
      pax = {};
      longName = undefined;
      longLink = undefined;
      await this.#trim();
      await this.#entry(reader, entry);
    }
  }

  async close(): Promise<void> {
    for (const handle of this.#folders.values()) await handle.close().catch(() => {});
    this.#folders.clear();
    await this.root.close().catch(() => {});
  }

  async #meta(reader: ByteReader, header: TarHeader): Promise<Buffer> {
    if (header.size > MAX_META_BYTES) throw invalidArchive("The archive has an oversized extended header.");
    const data = (await reader.exactly(header.size + padding(header.size))) ?? Buffer.alloc(0);
    if (data.length < header.size) throw new UnexpectedEndError();
    return data.subarray(0, header.size);
  }

  async #entry(reader: ByteReader, entry: TarHeader): Promise<void> {
    const segments = entrySegments(entry.name);
    const data = entry.kind === "file" ? 0 : entry.size + padding(entry.size);
    if (segments.length === 0) {
      // "." or "./": the folder itself.
      if (entry.kind !== "dir") throw invalidArchive(`The archive has a ${entry.kind} entry without a name.`);
      await reader.skip(data);
      return;
    }
    const name = segments[segments.length - 1] as string;
    const relative = segments.join("/");
    switch (entry.kind) {
      case "dir": {
        const dir = await this.#folder(segments, true);
        await dir.chmod((entry.mode & 0o777) | 0o700).catch(() => {});
        this.summary.directories++;
        break;
      }
      case "file": {
        const parent = await this.#folder(segments.slice(0, -1), true);
        await this.#file(parent, name, relative, reader, entry);
        await reader.skip(padding(entry.size));
        this.summary.files++;
        this.summary.bytes += entry.size;
        return;
      }
      case "symlink": {
        this.#checkSymlink(segments, entry.linkname);
        const parent = await this.#folder(segments.slice(0, -1), true);
        await this.#place(parent, name, relative, async (temp) => {
          await symlink(entry.linkname, temp);
          await giveToUser(temp);
        });
        this.summary.symlinks++;
        break;
      }
      case "hardlink": {
        const targetSegments = entrySegments(entry.linkname, `hard link ${relative}`);
        if (targetSegments.length === 0) throw outside(`The hard link ${relative} has no target.`);
        const targetParent = await this.#folder(targetSegments.slice(0, -1), false);
        const source = inDir(targetParent, targetSegments[targetSegments.length - 1] as string);
        const stats = await lstat(source).catch(() => null);
        if (!stats?.isFile()) throw outside(`The hard link ${relative} must point to a regular file unpacked into the same folder (${entry.linkname}).`);
        const parent = await this.#folder(segments.slice(0, -1), true);
        await this.#place(parent, name, relative, (temp) => link(source, temp));
        this.summary.hardlinks++;
        break;
      }
      default:
        this.#skip(relative, `type '${entry.flag.replace(/[^\x21-\x7e]/g, "?")}' entries (devices, FIFOs, sparse files) are not unpacked`);
    }
    await reader.skip(data);
  }

  /** A file's data into a temporary name, then renamed over `name`. */
  async #file(parent: FileHandle, name: string, relative: string, reader: ByteReader, entry: TarHeader): Promise<void> {
    await this.#place(parent, name, relative, async (temp) => {
      const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await giveToUser(temp);
        for await (const chunk of reader.chunks(entry.size)) await file.write(chunk);
        await file.chmod(entry.mode & 0o777);
        await file.utimes(entry.mtime, entry.mtime);
      } finally {
        await file.close();
      }
    });
  }

  /** Makes the entry under a temporary name with `make`, then renames it over `name` (never over a folder). */
  async #place(parent: FileHandle, name: string, relative: string, make: (temp: string) => Promise<unknown>): Promise<void> {
    const existing = await lstat(inDir(parent, name)).catch(() => null);
    if (existing?.isDirectory()) throw new SupervisorError("NOT_A_FILE", `${this.#shown(relative)} is a folder; the archive's entry cannot replace it.`);
    const temp = inDir(parent, `.${name.slice(0, 40)}.${randomBytes(6).toString("hex")}.outpost-tmp`);
    let placed = false;
    try {
      await make(temp);
      await rename(temp, inDir(parent, name));
      placed = true;
    } catch (error) {
      throw fsError(error, this.#shown(relative));
    } finally {
      if (!placed) await unlink(temp).catch(() => {});
    }
  }

  /**
   * The open folder at `segments` below the root, made when missing (`create`). Each part is
   * opened with O_NOFOLLOW through its parent's descriptor: a symlink or a file in the way
   * refuses the entry.
   */
  async #folder(segments: string[], create: boolean): Promise<FileHandle> {
    if (segments.length === 0) return this.root;
    const key = segments.join("/");
    const cached = this.#folders.get(key);
    if (cached) {
      this.#folders.delete(key);
      this.#folders.set(key, cached);
      return cached;
    }
    const parent = await this.#folder(segments.slice(0, -1), create);
    const name = segments[segments.length - 1] as string;
    const path = inDir(parent, name);
    let handle: FileHandle;
    try {
      if (create)
        await mkdir(path, 0o755).then(
          () => giveToUser(path),
          (error: NodeJS.ErrnoException) => (error.code === "EEXIST" ? undefined : Promise.reject(error)),
        );
      handle = await open(path, OPEN_DIRECTORY);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ELOOP" && code !== "ENOTDIR") throw fsError(error, this.#shown(key));
      // O_NOFOLLOW|O_DIRECTORY on a symlink fails with either code, depending on the kernel.
      if ((await lstat(path).catch(() => null))?.isSymbolicLink()) {
        throw outside(`${this.#shown(key)} is a symlink; archive entries are never written through symlinks.`);
      }
      throw new SupervisorError("NOT_A_DIRECTORY", `${this.#shown(key)} is a file; the archive needs a folder there.`);
    }
    this.#folders.set(key, handle);
    return handle;
  }

  /** Closes the least recently used folders; only between entries, never under one in use. */
  async #trim(): Promise<void> {
    while (this.#folders.size > OPEN_FOLDERS) {
      const [oldest, evicted] = this.#folders.entries().next().value as [string, FileHandle];
      this.#folders.delete(oldest);
      await evicted.close();
    }
  }

  /**
   * A symlink may point anywhere inside the workspace and home, never out. Its target is
   * resolved from where the link will be (below a folder the kernel named, reached without
   * symlinks). `..` may only lead a relative target: after a name it would climb from
   * wherever that name (perhaps a symlink) leads, which a check on the text cannot know.
   */
  #checkSymlink(segments: string[], target: string): void {
    const refuse = () => outside(`The symlink ${this.#shown(segments.join("/"))} points outside the sandbox's folders (${target.slice(0, 200)}).`);
    if (target === "" || target.length > MAX_FILE_PATH_CHARS || target.includes("\0")) throw refuse();
    const parts = target.split("/").filter((part) => part !== "" && part !== ".");
    const firstName = parts.findIndex((part) => part !== "..");
    if (firstName !== -1 && parts.slice(firstName).includes("..")) throw refuse();
    if (target.startsWith("/") && parts.includes("..")) throw refuse();
    const where = target.startsWith("/") ? posix.normalize(target) : posix.resolve(this.rootReal, ...segments.slice(0, -1), target);
    if (!this.confinement.isInside(where)) throw refuse();
  }

  #skip(relative: string, reason: string): void {
    this.summary.skippedCount++;
    if (this.summary.skipped.length < MAX_ARCHIVE_SKIPPED) this.summary.skipped.push({ path: relative, reason });
  }

  #shown(relative: string): string {
    return posix.join(this.summary.path, relative);
  }
}

/**
 * An entry's name as path segments below the folder: "./" and empty parts dropped;
 * absolute names and `..` refused (the archive would write outside its folder).
 */
function entrySegments(name: string, what = `The entry ${name.slice(0, 200)}`): string[] {
  if (name.includes("\0")) throw invalidArchive(`${what}: a name contains NUL.`);
  if (name.startsWith("/")) throw outside(`${what}: absolute names are refused; archive entries must be relative to the folder.`);
  const segments = name.split("/").filter((part) => part !== "" && part !== ".");
  if (segments.includes("..")) throw outside(`${what}: '..' is refused; archive entries must stay inside the folder.`);
  if (segments.length > MAX_DEPTH || name.length > MAX_FILE_PATH_CHARS) throw invalidArchive(`${what}: the name is too long or too deep.`);
  return segments;
}

function paxNumber(text: string, key: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) throw invalidArchive(`The archive has a bad pax '${key}'.`);
  return key === "size" ? Math.floor(value) : value;
}
