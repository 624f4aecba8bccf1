// The file routes of protocol 2 (docs/supervisor-protocol.md, "Files"): what a path is (a
// folder with its entries), its bytes both ways, mkdir, move, delete, tar archives both
// ways and a change feed. Every path is confined to the workspace and the home folder
// (confine.ts).
import { mkdir, rename, rmdir, unlink } from "node:fs/promises";
import { posix } from "node:path";
import type { DeletePathResult, FileInfo } from "../../protocol.ts";
import { deletePathRequestSchema, makeDirectoryRequestSchema, movePathRequestSchema } from "../../protocol-schemas.ts";
import { readJsonBody } from "../body.ts";
import { invalid, SupervisorError } from "../errors.ts";
import type { Handler } from "../http-types.ts";
import { giveToUser } from "../identity.ts";
import { sendJson } from "../respond.ts";
import type { Router } from "../router.ts";
import { parseWith } from "../validate.ts";
import { packHandler } from "./archive-pack.ts";
import { unpackHandler } from "./archive-unpack.ts";
import { type Confinement, fsError, inDir, lstatOrNull, OPEN_READ, statPath } from "./confine.ts";
import { readHandler, writeHandler } from "./content.ts";
import { entryOf, listEntries } from "./entries.ts";
import { onlyParams } from "./query.ts";
import { removeTree } from "./remove.ts";
import { WatchLimiter, watchHandler } from "./watch.ts";

export function addFileRoutes(router: Router, confinement: Confinement): void {
  router
    .add("GET", "/v1/files", infoHandler(confinement))
    .add("GET", "/v1/files/content", readHandler(confinement))
    .add("POST", "/v1/files/content", writeHandler(confinement))
    .add("POST", "/v1/files/mkdir", mkdirHandler(confinement))
    .add("POST", "/v1/files/move", moveHandler(confinement))
    .add("POST", "/v1/files/delete", deleteHandler(confinement))
    .add("GET", "/v1/files/archive", packHandler(confinement))
    .add("POST", "/v1/files/archive", unpackHandler(confinement))
    .add("GET", "/v1/files/watch", watchHandler(confinement, new WatchLimiter()));
}

/** What `absolute` is (following symlinks that stay inside); a folder with its entries. */
async function describe(confinement: Confinement, absolute: string, withEntries: boolean): Promise<FileInfo> {
  const name = posix.basename(absolute);
  const handle = await confinement.open(absolute, OPEN_READ).catch(async (error: unknown) => {
    // A socket cannot be opened (ENXIO): describe it from its path, it has no content anyway.
    if (error instanceof SupervisorError && error.code === "NOT_A_FILE") return null;
    throw error;
  });
  if (!handle) return { path: absolute, ...entryOf(name, await statPath(await confinement.resolve(absolute))) };
  try {
    const info: FileInfo = { path: absolute, ...entryOf(name, await handle.stat()) };
    if (withEntries && info.type === "dir") Object.assign(info, await listEntries(handle));
    return info;
  } finally {
    await handle.close();
  }
}

function infoHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path"]);
    sendJson(response, 200, await describe(confinement, confinement.lexical(request.query.get("path")), true));
  };
}

function mkdirHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    const body = parseWith(makeDirectoryRequestSchema, await readJsonBody(request));
    const absolute = confinement.lexical(body.path);
    if (body.parents) {
      await (await confinement.ensureDirectory(absolute)).close();
    } else {
      if (confinement.isRoot(absolute)) throw new SupervisorError("PATH_EXISTS", `${absolute} already exists.`);
      const { dir, name } = await confinement.parent(absolute);
      try {
        await mkdir(inDir(dir, name), 0o755);
        await giveToUser(inDir(dir, name));
      } catch (error) {
        throw fsError(error, absolute);
      } finally {
        await dir.close();
      }
    }
    sendJson(response, 201, await describe(confinement, absolute, false));
  };
}

function moveHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    const body = parseWith(movePathRequestSchema, await readJsonBody(request));
    const from = confinement.lexical(body.from, "from");
    const to = confinement.lexical(body.to, "to");
    if (to.startsWith(`${from}/`)) throw invalid(`${from} cannot move into itself (${to}).`);
    const source = await confinement.parent(from);
    try {
      const target = await confinement.parent(to);
      try {
        const moving = await lstatOrNull(inDir(source.dir, source.name));
        if (!moving) throw new SupervisorError("PATH_NOT_FOUND", `No such file or folder: ${from}.`);
        if (from !== to) {
          const there = await lstatOrNull(inDir(target.dir, target.name));
          if (there && body.overwrite !== true) throw new SupervisorError("PATH_EXISTS", `${to} already exists (pass overwrite=true to replace it).`);
          if (there?.isDirectory() && !moving.isDirectory()) {
            throw new SupervisorError("PATH_EXISTS", `${to} is a folder; give the new path in full (e.g. ${posix.join(to, source.name)}).`);
          }
          try {
            // rename() moves the entry itself: a symlink moves as a link, never its target.
            await rename(inDir(source.dir, source.name), inDir(target.dir, target.name));
          } catch (error) {
            throw fsError(error, to);
          }
        }
      } finally {
        await target.dir.close();
      }
    } finally {
      await source.dir.close();
    }
    sendJson(response, 200, await describe(confinement, to, false).catch(() => describeLink(confinement, to)));
  };
}

/** A moved symlink whose target is elsewhere is still described, as the link. */
async function describeLink(confinement: Confinement, absolute: string): Promise<FileInfo> {
  const { dir, name } = await confinement.parent(absolute);
  try {
    const stats = await lstatOrNull(inDir(dir, name));
    if (!stats) throw new SupervisorError("PATH_NOT_FOUND", `No such file or folder: ${absolute}.`);
    return { path: absolute, ...entryOf(name, stats) };
  } finally {
    await dir.close();
  }
}

function deleteHandler(confinement: Confinement): Handler {
  return async (request, response) => {
    const body = parseWith(deletePathRequestSchema, await readJsonBody(request));
    const absolute = confinement.lexical(body.path);
    if (confinement.isRoot(absolute)) throw invalid(`${absolute} is a root folder of the sandbox and cannot be deleted; delete what is in it.`);
    const { dir, name } = await confinement.parent(absolute);
    try {
      // The entry itself, never what it points at: a symlink is unlinked as a link.
      const stats = await lstatOrNull(inDir(dir, name));
      if (!stats) throw new SupervisorError("PATH_NOT_FOUND", `No such file or folder: ${absolute}.`);
      if (!stats.isDirectory()) await unlink(inDir(dir, name));
      else if (body.recursive) await removeTree(dir, name);
      else await rmdir(inDir(dir, name));
    } catch (error) {
      const mapped = fsError(error, absolute);
      if (mapped instanceof SupervisorError && mapped.code === "DIRECTORY_NOT_EMPTY" && !body.recursive) {
        throw new SupervisorError("DIRECTORY_NOT_EMPTY", `${absolute} is a folder that is not empty (pass recursive=true to delete it with everything in it).`);
      }
      throw mapped;
    } finally {
      await dir.close();
    }
    const result: DeletePathResult = { path: absolute };
    sendJson(response, 200, result);
  };
}
