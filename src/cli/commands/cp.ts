// `outpost cp <src> <dst>`: copies files and folders between this machine and a sandbox,
// one side named `<sandbox>:<path>` (paths relative to /workspace; `./a:b` is a local path
// with a colon). Everything streams: a file's bytes, or a folder as a tar archive that the
// system's `tar` packs or unpacks here (it refuses absolute and `..` names from the other
// side); nothing is held in memory whole. `-` is stdout (a file's bytes; a folder as a tar
// archive) or stdin (its bytes become the file).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, type Stats, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { basename, dirname, join, posix } from "node:path";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ArchiveSummary, FileResource } from "../../schemas/files.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, resolveConnection } from "../client.ts";

export const cpHelp = `outpost cp <sandbox>:<path> <local path | ->     copy out of a sandbox
outpost cp <local path | -> <sandbox>:<path>     copy into a sandbox
  Paths in the sandbox are under /workspace (relative ones) or /home/outpost. Folders are
  copied whole (as <dst>, or into <dst>/<name> when <dst> is a folder), through \`tar\`.
  - as the destination writes a file's bytes, or a folder as a tar archive, to stdout;
  - as the source writes stdin to the file <path>.`;

interface Remote {
  sandbox: string;
  path: string;
}

export async function cp(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (positionals.length !== 2) throw new UsageError("outpost cp takes a source and a destination, e.g. outpost cp my-sandbox:src ./src");
  const [source, destination] = positionals.map(remoteOf) as [Remote | null, Remote | null];
  const [sourceText, destinationText] = positionals as [string, string];
  if ((source === null) === (destination === null)) throw new UsageError("name the sandbox on exactly one side: <sandbox>:<path>");
  const api = new ApiClient(resolveConnection(values));
  if (source) return download(api, source, destinationText, values.json);
  return upload(api, sourceText, destination as Remote, values.json);
}

/** `box:src/main.ts` → { sandbox: "box", path: "src/main.ts" }; a local path → null. */
function remoteOf(argument: string): Remote | null {
  const match = /^([A-Za-z0-9_-]{1,64}):(.*)$/s.exec(argument);
  if (!match) return null;
  return { sandbox: match[1] as string, path: match[2] || "." };
}

const filesPath = (remote: Remote, route: string, query: Record<string, string>) =>
  `/api/v1/sandboxes/${encodeURIComponent(remote.sandbox)}/files${route}?${new URLSearchParams({ path: remote.path, ...query })}`;

/** What a path in the sandbox is; null when nothing is there. */
async function remoteInfo(api: ApiClient, remote: Remote): Promise<FileResource | null> {
  try {
    return await api.request<FileResource>("GET", filesPath(remote, "", {}));
  } catch (error) {
    if (error instanceof ApiError && error.code === "PATH_NOT_FOUND") return null;
    throw error;
  }
}

async function download(api: ApiClient, remote: Remote, target: string, json: boolean): Promise<number> {
  const info = await remoteInfo(api, remote);
  if (!info) throw new ApiError(404, "PATH_NOT_FOUND", `${remote.sandbox}:${remote.path} does not exist`);
  const toStdout = target === "-";
  if (info.type === "dir") {
    const response = await api.send("GET", filesPath(remote, "/archive", {}), undefined, { accept: "application/x-tar" });
    if (toStdout) {
      await pipeline(response, process.stdout);
      return 0;
    }
    const folder = isDirectory(localStat(target)) ? join(target, info.name) : target;
    mkdirSync(folder, { recursive: true });
    await untar(response, folder);
    report(json, { copied: "folder", from: `${remote.sandbox}:${info.path}`, to: folder }, `copied ${remote.sandbox}:${info.path} to ${folder}`);
    return 0;
  }
  if (info.type !== "file") throw new ApiError(409, "NOT_A_FILE", `${remote.sandbox}:${info.path} is a ${info.type}, neither a file nor a folder`);
  const response = await api.send("GET", filesPath(remote, "/content", {}), undefined, { accept: "application/octet-stream" });
  if (toStdout) {
    await pipeline(response, process.stdout);
    return 0;
  }
  const file = isDirectory(localStat(target)) ? join(target, info.name) : target;
  // Written next to the target and renamed: an interrupted copy leaves the old file, never half a new one.
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString("hex")}.outpost-tmp`);
  try {
    await pipeline(response, createWriteStream(temp, { mode: info.mode & 0o777 }));
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, "STREAM_BROKEN", `copying ${remote.sandbox}:${info.path} broke off: ${(error as Error).message}`);
  }
  report(
    json,
    { copied: "file", from: `${remote.sandbox}:${info.path}`, to: file, size: info.size },
    `copied ${remote.sandbox}:${info.path} to ${file} (${info.size} bytes)`,
  );
  return 0;
}

async function upload(api: ApiClient, source: string, remote: Remote, json: boolean): Promise<number> {
  if (source === "-") {
    const written = await api.upload<FileResource>("PUT", filesPath(remote, "/content", {}), process.stdin, { contentType: "application/octet-stream" });
    report(json, written, `wrote ${remote.sandbox}:${written.path} (${written.size} bytes)`);
    return 0;
  }
  const local = localStat(source);
  if (!local) throw new UsageError(`${source} does not exist here`);
  const there = await remoteInfo(api, remote);
  const into = there?.type === "dir" ? { ...remote, path: posix.join(there.path, basename(source)) } : remote;
  if (local.isDirectory()) {
    const tar = spawnTar(["-c", "-f", "-", "-C", source, "."], "ignore");
    const summary = await api.upload<ArchiveSummary>("PUT", filesPath(into, "/archive", {}), tarOutput(tar), { contentType: "application/x-tar" });
    report(json, summary, `copied ${source} to ${into.sandbox}:${summary.path} (${summary.files} files, ${summary.bytes} bytes)`);
    return 0;
  }
  if (!local.isFile()) throw new UsageError(`${source} is neither a file nor a folder`);
  const written = await api.upload<FileResource>(
    "PUT",
    filesPath(into, "/content", { mode: (local.mode & 0o777).toString(8).padStart(3, "0") }),
    createReadStream(source),
    { contentType: "application/octet-stream", length: local.size },
  );
  report(json, written, `copied ${source} to ${into.sandbox}:${written.path} (${written.size} bytes)`);
  return 0;
}

/** The archive into `folder` with the system's tar, which refuses absolute and `..` names. */
async function untar(archive: IncomingMessage, folder: string): Promise<void> {
  const tar = spawnTar(["-x", "-f", "-", "-C", folder, "--no-same-owner"], "pipe");
  const exited = exitOf(tar);
  try {
    await pipeline(archive, tar.stdin as NodeJS.WritableStream);
  } catch (error) {
    tar.kill();
    await exited.catch(() => {});
    throw new ApiError(0, "STREAM_BROKEN", `the archive broke off before its end: ${(error as Error).message}`);
  }
  await exited;
}

/**
 * tar's output as the upload's body, ended only once tar exited well: a tar that fails
 * midway makes the body fail, so the upload is cancelled instead of looking complete.
 */
function tarOutput(tar: ChildProcess): NodeJS.ReadableStream {
  const body = new PassThrough();
  tar.stdout?.pipe(body, { end: false });
  exitOf(tar).then(
    () => body.end(),
    (error: Error) => body.destroy(error),
  );
  return body;
}

function spawnTar(args: string[], stdin: "pipe" | "ignore"): ChildProcess {
  // COPYFILE_DISABLE keeps macOS's tar from adding ._ files for extended attributes.
  const tar = spawn("tar", args, { stdio: [stdin, "pipe", "pipe"], env: { ...process.env, COPYFILE_DISABLE: "1" } });
  let errors = "";
  tar.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    if (errors.length < 4000) errors += chunk;
  });
  (tar as ChildProcess & { errors: () => string }).errors = () => errors.trim();
  return tar;
}

/** Resolves when tar exited with 0; rejects with its complaint otherwise (or when it is missing). */
function exitOf(tar: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.once("error", (error: NodeJS.ErrnoException) =>
      reject(new ApiError(0, "TAR_MISSING", error.code === "ENOENT" ? "outpost cp needs `tar` on this machine to copy folders" : error.message)),
    );
    tar.once("close", (code) => {
      if (code === 0) return resolve();
      const said = (tar as ChildProcess & { errors?: () => string }).errors?.() ?? "";
      reject(new ApiError(0, "TAR_FAILED", `tar failed (exit ${code})${said ? `: ${said}` : ""}`));
    });
  });
}

function localStat(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const isDirectory = (stats: Stats | null) => stats?.isDirectory() === true;

/** The human line on stderr (stdout may be the data); with --json the answer on stdout. */
function report(json: boolean, value: unknown, line: string): void {
  if (json) console.log(JSON.stringify(value, null, 2));
  else console.error(line);
}
