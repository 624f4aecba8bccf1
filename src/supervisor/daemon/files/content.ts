// A file's bytes, both ways, streamed with flow control (nothing buffers a whole file).
//   GET  /v1/files/content?path=&start=&end=   the bytes [start, end) of a regular file
//   POST /v1/files/content?path=&parents=&overwrite=&mode=   the body becomes the file, atomically
// A write goes to a new temporary file in the target's folder (opened through the folder's
// descriptor, O_EXCL|O_NOFOLLOW), is fsync'd and renamed over the name, so readers see the
// old file or the new one, never half of it; a symlink put in the name's place meanwhile
// is replaced, never written through. A body that ends because the control plane cancelled
// the stream leaves nothing behind.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, lstat, open, realpath, rename, unlink } from "node:fs/promises";
import { posix } from "node:path";
import type { WriteFileResult } from "../../protocol.ts";
import { invalid, SupervisorError } from "../errors.ts";
import type { Handler, SupervisorRequest } from "../http-types.ts";
import { giveToUser } from "../identity.ts";
import { sendJson, writeChunk } from "../respond.ts";
import { type Confinement, fsError, inDir, lstatOrNull, outside } from "./confine.ts";
import { entryOf, isoTime } from "./entries.ts";
import { flag, offset, onlyParams } from "./query.ts";
import { checkUploadType, IncompleteUploadError, uploadBytes } from "./upload-body.ts";

const READ_CHUNK_BYTES = 64 * 1024;
const WRITE_BATCH_BYTES = 256 * 1024;

export function readHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path", "start", "end"]);
    const absolute = confinement.lexical(request.query.get("path"));
    const handle = await confinement.open(absolute);
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw new SupervisorError("NOT_A_FILE", `${absolute} is a folder: list it, or download it as an archive.`);
      if (!stats.isFile()) throw new SupervisorError("NOT_A_FILE", `${absolute} is not a regular file.`);
      const start = offset(request.query, "start") ?? 0;
      const end = Math.min(offset(request.query, "end") ?? stats.size, stats.size);
      if (start > 0 && start >= stats.size) {
        throw new SupervisorError("RANGE_NOT_SATISFIABLE", `${absolute} has ${stats.size} bytes; a range cannot start at ${start}.`);
      }
      if (end < start) throw invalid("'end' must not be before 'start'.");
      const length = end - start;
      response.start(200, {
        "content-type": "application/octet-stream",
        "content-length": String(length),
        "x-outpost-file-size": String(stats.size),
        "x-outpost-file-mtime": isoTime(stats.mtimeMs),
        "x-outpost-file-mode": String(stats.mode & 0o7777),
      });
      let sent = 0;
      while (sent < length && !response.closed) {
        // A fresh buffer per chunk: the transport may hold a written one until it is sent.
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, length - sent));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, start + sent);
        if (bytesRead === 0) break;
        sent += bytesRead;
        await writeChunk(response, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      }
      // The file shrank while it was read: cut the stream so the client sees it broke,
      // rather than ending it as if those were all the bytes.
      if (sent < length) response.raw.destroy(new Error(`${absolute} shrank while it was read`));
      else response.end();
    } finally {
      await handle.close();
    }
  };
}

export function writeHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path", "parents", "overwrite", "mode"]);
    const absolute = confinement.lexical(request.query.get("path"));
    const parents = flag(request.query, "parents");
    const overwrite = flag(request.query, "overwrite", true);
    const mode = permissions(request.query.get("mode"));
    checkUploadType(request);
    const { dir, name, shown } = await writeTarget(confinement, absolute, parents);
    try {
      const existing = await lstatOrNull(inDir(dir, name));
      if (existing?.isDirectory()) throw new SupervisorError("NOT_A_FILE", `${shown} is a folder; a file cannot replace it.`);
      if (existing && !overwrite) throw new SupervisorError("PATH_EXISTS", `${shown} already exists (overwrite=false).`);
      // A replaced file keeps its permissions, as an editor's save does, unless told otherwise.
      await writeAtomically(dir, name, request, { mode: mode ?? (existing?.isFile() ? existing.mode & 0o7777 : 0o644), overwrite, shown });
      const stats = await lstat(inDir(dir, name));
      const result: WriteFileResult = { path: absolute, ...entryOf(posix.basename(absolute), stats), created: existing === null };
      sendJson(response, 200, result);
    } finally {
      await dir.close();
    }
  };
}

/**
 * Where a write lands: an existing file (through symlinks that stay inside), or a new name
 * in an existing folder (created first with `parents`). A symlink that leads nowhere is
 * refused: writing through it could create a file anywhere.
 */
async function writeTarget(confinement: Confinement, absolute: string, parents: boolean): Promise<{ dir: FileHandle; name: string; shown: string }> {
  if (confinement.isRoot(absolute)) throw new SupervisorError("NOT_A_FILE", `${absolute} is a root folder of the sandbox.`);
  let real: string | undefined;
  try {
    real = await realpath(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fsError(error, absolute);
  }
  if (real !== undefined) {
    if (!confinement.isInside(real)) throw outside(`${absolute} is a symlink that points outside ${confinement.described}; it is not written through.`);
    return { dir: await confinement.openDirectory(posix.dirname(real)), name: posix.basename(real), shown: absolute };
  }
  if ((await lstatOrNull(absolute))?.isSymbolicLink()) {
    throw new SupervisorError("PATH_NOT_FOUND", `${absolute} is a symlink to something that does not exist; write to a real path instead.`);
  }
  const { dir, name } = await confinement.parent(absolute, { create: parents }).catch((error: unknown) => {
    if (error instanceof SupervisorError && error.code === "PATH_NOT_FOUND" && !parents) {
      throw new SupervisorError("PATH_NOT_FOUND", `The folder ${posix.dirname(absolute)} does not exist (pass parents=true to create it).`);
    }
    throw error;
  });
  return { dir, name, shown: absolute };
}

/** The request body into a temporary file next to `name`, then renamed (or linked) into place. */
async function writeAtomically(
  dir: FileHandle,
  name: string,
  request: SupervisorRequest,
  options: { mode: number; overwrite: boolean; shown: string },
): Promise<void> {
  // A short prefix of the name: the temporary name must stay under NAME_MAX (255 bytes).
  const temp = `.${name.slice(0, 40)}.${randomBytes(6).toString("hex")}.outpost-tmp`;
  const tempPath = inDir(dir, temp);
  let file: FileHandle | undefined;
  let placed = false;
  try {
    file = await open(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await giveToUser(tempPath);
    // The body is consumed only as fast as the disk takes it (HTTP/2 flow control holds the
    // control plane, and the API client behind it, back); only a body that reached its eof
    // frame gets past here, so a cancelled upload is never committed.
    await copyInto(file, uploadBytes(request));
    await file.chmod(options.mode);
    await file.sync();
    await file.close();
    file = undefined;
    if (options.overwrite) {
      await rename(tempPath, inDir(dir, name));
    } else {
      // link() refuses an existing name, where rename() would replace it: no race with a
      // file made meanwhile.
      await link(tempPath, inDir(dir, name));
      await unlink(tempPath);
    }
    placed = true;
  } catch (error) {
    if (error instanceof IncompleteUploadError) throw invalid("The upload was cancelled before its end; nothing was written.");
    throw fsError(error, options.shown);
  } finally {
    await file?.close().catch(() => {});
    if (!placed) await unlink(tempPath).catch(() => {});
  }
}

/** Writes a stream into a file, a few hundred KiB per write call, holding no more than that. */
async function copyInto(file: FileHandle, body: AsyncIterable<Buffer>): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= WRITE_BATCH_BYTES || batch.length >= 256) {
      await file.writev(batch);
      batch = [];
      size = 0;
    }
  }
  if (size > 0) await file.writev(batch);
}

/** `mode=755`: permission bits in octal; absent: undefined. */
function permissions(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (!/^[0-7]{3,4}$/.test(value)) throw invalid("'mode' must be 3 or 4 octal digits, e.g. 644.");
  return Number.parseInt(value, 8);
}
