// GET /v1/files/archive?path=: a folder (or one file) as a tar archive, streamed as it is
// read, paused while the control plane's stream is full. Entries are named relative to the
// folder ("src/main.ts", folders with a trailing "/"); symlinks are archived as links and
// never followed; FIFOs, sockets and devices are left out. The tree is walked through
// descriptors (O_NOFOLLOW at every level), so nothing swapped in meanwhile can lead the
// walk outside. A file that changes while it is read is archived at the size it had when
// its header was written (cut, or padded with zeros), as tar itself does.
import { type FileHandle, lstat, open, opendir, readlink } from "node:fs/promises";
import { posix } from "node:path";
import { SupervisorError } from "../errors.ts";
import type { Handler, SupervisorResponse } from "../http-types.ts";
import { writeChunk } from "../respond.ts";
import { type Confinement, fdPath, inDir, OPEN_DIRECTORY, OPEN_READ } from "./confine.ts";
import { onlyParams } from "./query.ts";
import { END_OF_ARCHIVE, encodeEntry, padding } from "./tar.ts";

const READ_CHUNK_BYTES = 64 * 1024;
/** Each level holds two descriptors (the folder and its listing); deeper folders are left out. */
const MAX_DEPTH = 128;

export function packHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path"]);
    const absolute = confinement.lexical(request.query.get("path"));
    const handle = await confinement.open(absolute);
    try {
      const stats = await handle.stat();
      if (!stats.isDirectory() && !stats.isFile()) throw new SupervisorError("NOT_A_FILE", `${absolute} is neither a folder nor a regular file.`);
      response.start(200, { "content-type": "application/x-tar" });
      const packer = new Packer(response);
      try {
        if (stats.isDirectory()) await packer.folder(handle, "", 0);
        else await packer.file(handle, posix.basename(absolute));
        await writeChunk(response, END_OF_ARCHIVE);
      } catch (error) {
        // Mid-stream there is no status to send: cut the stream so the client sees a broken
        // archive rather than one that ends early as if complete.
        response.raw.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      response.end();
    } finally {
      await handle.close();
    }
  };
}

class Packer {
  constructor(private readonly response: SupervisorResponse) {}

  /** Every entry below the open folder `dir`, named `prefix` + its name. */
  async folder(dir: FileHandle, prefix: string, depth: number): Promise<void> {
    for await (const dirent of await opendir(fdPath(dir), { bufferSize: 128 })) {
      if (this.response.closed) return;
      await this.entry(dir, dirent.name, prefix, depth);
    }
  }

  private async entry(dir: FileHandle, name: string, prefix: string, depth: number): Promise<void> {
    const path = inDir(dir, name);
    // Gone meanwhile, or a name that is not valid UTF-8 (it cannot be named back): left out.
    const stats = await lstat(path).catch(() => null);
    if (!stats) return;
    const mtime = Math.floor(stats.mtimeMs / 1000);
    const mode = stats.mode & 0o7777;
    if (stats.isSymbolicLink()) {
      const target = await readlink(path).catch(() => null);
      if (target !== null) await this.write(encodeEntry({ name: `${prefix}${name}`, kind: "symlink", size: 0, mode, mtime, linkname: target }));
    } else if (stats.isDirectory()) {
      if (depth >= MAX_DEPTH) return;
      const child = await open(path, OPEN_DIRECTORY).catch(() => null);
      if (!child) return;
      try {
        await this.write(encodeEntry({ name: `${prefix}${name}/`, kind: "dir", size: 0, mode, mtime }));
        await this.folder(child, `${prefix}${name}/`, depth + 1);
      } finally {
        await child.close();
      }
    } else if (stats.isFile()) {
      const file = await open(path, OPEN_READ).catch(() => null);
      if (!file) return;
      try {
        await this.file(file, `${prefix}${name}`);
      } finally {
        await file.close();
      }
    }
  }

  /** One regular file: its header with the size it has now, then exactly that many bytes. */
  async file(file: FileHandle, name: string): Promise<void> {
    const stats = await file.stat();
    if (!stats.isFile()) return;
    const size = stats.size;
    await this.write(encodeEntry({ name, kind: "file", size, mode: stats.mode & 0o7777, mtime: Math.floor(stats.mtimeMs / 1000) }));
    let sent = 0;
    while (sent < size && !this.response.closed) {
      // A fresh buffer per chunk: the transport may hold a written one until it is sent.
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, size - sent));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, sent);
      if (bytesRead === 0) break;
      sent += bytesRead;
      await this.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
    }
    // Shrunk while read: zeros stand in for what is missing, so the archive stays valid.
    const rest = size - sent + padding(size);
    for (let left = rest; left > 0 && !this.response.closed; left -= READ_CHUNK_BYTES) await this.write(Buffer.alloc(Math.min(left, READ_CHUNK_BYTES)));
  }

  private write(chunk: Buffer): Promise<void> {
    return writeChunk(this.response, chunk);
  }
}
