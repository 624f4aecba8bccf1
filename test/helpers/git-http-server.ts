// A real smart-HTTP git remote for tests and benches: a node:http server on 127.0.0.1 that
// runs Debian git's `git http-backend` as a CGI program for every request (clone, fetch,
// push; protocol v0 and v2), behind Basic auth the way GitHub takes a token
// (`x-access-token:<token>`). Bodies stream both ways, so a big push or clone never sits in
// memory. Sandboxes reach it as host.outpost.internal:<port> through the egress proxy; host
// git uses localUrl() with `authHeader` (e.g. `-c http.extraHeader=…`).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { IMPORT_IDENTITY, type ImportEntry, importFiles } from "./git-import.ts";

const run = promisify(execFile);

export const HOST_MACHINE = "host.outpost.internal";
const USER = "x-access-token";

export interface GitHttpRequest {
  method: string;
  /** The URL path, e.g. /app.git/info/refs. */
  path: string;
  /** The query string without '?', e.g. service=git-upload-pack. */
  query: string;
  /** Whether an Authorization header came at all, and whether it carried the right token. */
  hadAuthorization: boolean;
  authorized: boolean;
  /** The request body came chunked (no Content-Length): how git sends packs over http.postBuffer. */
  chunked: boolean;
  /** Bytes of request body read (as sent: gzip'd stays gzip'd). */
  bodyBytes: number;
  /** The HTTP status answered (set once the answer has been sent). */
  status?: number;
}

export interface RemoteCommit {
  sha: string;
  author: { name: string; email: string };
  committer: { name: string; email: string };
  /** The full message (subject, body, trailers), without the final newline. */
  message: string;
}

export interface CreateRepoOptions {
  /** The branch the commit goes on, and HEAD (default main). */
  branch?: string;
  /** A submodule at `path` pointing at the HEAD commit of another repository this server
   *  holds (create it first); `url` defaults to a relative one (`../<repo>.git` from `app`,
   *  `../../<repo>.git` from `owner/app`), which git resolves against the superproject's
   *  remote, so it works from host and sandbox alike. */
  submodule?: { path: string; repo: string; url?: string };
}

export interface GitHttpServer {
  port: number;
  /** GIT_PROJECT_ROOT: the served bare repositories are <root>/<name>.git. */
  root: string;
  token: string;
  /** The value of a right Authorization header, for host git (`http.extraHeader=Authorization: …`). */
  authHeader: string;
  /** http://host.outpost.internal:<port>/<name>.git: the URL a sandbox (and a project's repoUrl) uses. */
  url(name: string): string;
  /** http://127.0.0.1:<port>/<name>.git: the same repository for git on the host. */
  localUrl(name: string): string;
  /** <root>/<name>.git (names: `app` or `owner/app`). */
  gitDir(name: string): string;
  /** A bare repository with one commit holding `files`; returns that commit's sha. */
  createRepo(name: string, files: Record<string, string | Uint8Array>, options?: CreateRepoOptions): Promise<string>;
  /** A bare repository with one commit of any number of files, streamed (benches). */
  importRepo(name: string, files: Iterable<[string, ImportEntry]>, options?: { branch?: string; message?: string }): Promise<string>;
  /** Commits reachable from `ref` on the remote, newest first. */
  log(name: string, ref?: string): Promise<RemoteCommit[]>;
  /** Every request so far, in arrival order. */
  readonly requests: GitHttpRequest[];
  stop(): Promise<void>;
}

/** Git on the server side sees no user or system configuration of the machine. */
function gitEnv(root: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LANG: "C" };
}

/** `app` or `owner/app` (GitHub-shaped paths), without `.git`. */
function checkName(name: string): string {
  if (!name.split("/").every((part) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(part) && !part.endsWith(".git")) || name.split("/").length > 2) {
    throw new Error(`git test server: bad repository name ${JSON.stringify(name)}`);
  }
  return name;
}

/** `Basic base64(x-access-token:<token>)`. */
export function basicAuth(token: string): string {
  return `Basic ${Buffer.from(`${USER}:${token}`).toString("base64")}`;
}

/**
 * Splits a CGI answer's header block (`Status: 404 Not Found`, `Content-Type: …`, a blank
 * line) from its body. Returns null until the blank line has arrived.
 */
export function parseCgiHead(data: Buffer): { status: number; headers: [string, string][]; bodyStart: number } | null {
  const crlf = data.indexOf("\r\n\r\n");
  const lf = data.indexOf("\n\n");
  let end: number;
  let skip: number;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) [end, skip] = [crlf, 4];
  else if (lf !== -1) [end, skip] = [lf, 2];
  else return null;
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of data.subarray(0, end).toString("latin1").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed CGI header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") {
      status = Number.parseInt(value, 10);
      if (!(status >= 100 && status <= 599)) throw new Error(`malformed CGI Status: ${JSON.stringify(value)}`);
    } else headers.push([name, value]);
  }
  return { status, headers, bodyStart: end + skip };
}

/** `open: true` serves without asking for the token (a public repository). */
export async function startGitHttpServer(options: { token?: string; open?: boolean } = {}): Promise<GitHttpServer> {
  const token = options.token ?? "test-token";
  const authHeader = basicAuth(token);
  const root = mkdtempSync(join(tmpdir(), "outpost-git-remote-"));
  const env = gitEnv(root);
  const requests: GitHttpRequest[] = [];
  const children = new Set<ChildProcess>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://git");
    const given = req.headers.authorization;
    const record: GitHttpRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.search.replace(/^\?/, ""),
      hadAuthorization: given !== undefined,
      authorized: given === authHeader,
      chunked: req.headers["content-length"] === undefined && /chunked/i.test(req.headers["transfer-encoding"] ?? ""),
      bodyBytes: 0,
    };
    requests.push(record);
    req.on("data", (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
    });
    res.once("finish", () => {
      record.status = res.statusCode;
    });
    if (!record.authorized && !options.open) {
      req.resume();
      res.writeHead(401, { "www-authenticate": 'Basic realm="outpost test git"', "content-type": "text/plain" }).end("authentication required\n");
      return;
    }
    let pathInfo: string;
    try {
      pathInfo = decodeURIComponent(url.pathname);
    } catch {
      req.resume();
      res.writeHead(400, { "content-type": "text/plain" }).end("bad path\n");
      return;
    }
    cgi(req, res, url, pathInfo);
  };

  const cgi = (req: IncomingMessage, res: ServerResponse, url: URL, pathInfo: string) => {
    const cgiEnv: NodeJS.ProcessEnv = {
      ...env,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: pathInfo,
      QUERY_STRING: url.search.replace(/^\?/, ""),
      REMOTE_USER: USER,
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      AUTH_TYPE: "Basic",
    };
    if (req.headers["content-type"]) cgiEnv.CONTENT_TYPE = req.headers["content-type"];
    // Without it (a chunked request body: git's big pushes) http-backend reads to EOF.
    if (req.headers["content-length"]) cgiEnv.CONTENT_LENGTH = req.headers["content-length"];
    // http-backend reads these two itself: gzip'd request bodies and protocol v2.
    if (req.headers["content-encoding"]) cgiEnv.HTTP_CONTENT_ENCODING = String(req.headers["content-encoding"]);
    if (req.headers["git-protocol"]) cgiEnv.HTTP_GIT_PROTOCOL = String(req.headers["git-protocol"]);

    const child = spawn("git", ["http-backend"], { env: cgiEnv, stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    // http-backend may answer (an error) without reading the whole body: not our failure.
    child.stdin.on("error", () => {});
    req.pipe(child.stdin);
    // The client went away mid-answer: nobody reads what git would still write.
    res.once("close", () => {
      if (!res.writableFinished) child.kill("SIGKILL");
    });

    let head: Buffer | null = Buffer.alloc(0);
    let failed = false;
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end(`${message}\n${stderr}`);
      else res.destroy(new Error(message));
      child.kill("SIGKILL");
    };
    child.stdout.on("data", (chunk: Buffer) => {
      if (failed) return;
      if (head === null) {
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once("drain", () => child.stdout.resume());
        }
        return;
      }
      head = Buffer.concat([head, chunk]);
      let parsed: ReturnType<typeof parseCgiHead>;
      try {
        parsed = parseCgiHead(head);
      } catch (error) {
        head = null;
        fail((error as Error).message);
        return;
      }
      if (!parsed) return;
      const body = head.subarray(parsed.bodyStart);
      head = null;
      res.writeHead(parsed.status, parsed.headers.flat());
      if (body.length) res.write(body);
    });
    child.once("error", (error) => fail(`git http-backend: ${error.message}`));
    child.once("close", (code) => {
      children.delete(child);
      if (head !== null) fail(`git http-backend exited ${code} without a CGI header block`);
      else if (!failed) res.end();
    });
  };

  const server = createServer(handle);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  const gitDir = (name: string) => join(root, `${checkName(name)}.git`);
  const git = async (args: string[]) => (await run("git", args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout;

  const initBare = async (name: string, branch: string) => {
    const dir = gitDir(name);
    mkdirSync(dir, { recursive: true });
    await git(["init", "--quiet", "--bare", `--initial-branch=${branch}`, dir]);
    // Served for push too (http-backend enables it for an authenticated REMOTE_USER, but say so).
    await git(["--git-dir", dir, "config", "http.receivepack", "true"]);
    return dir;
  };

  const importRepo: GitHttpServer["importRepo"] = async (name, files, opts = {}) => {
    const branch = opts.branch ?? "main";
    const dir = await initBare(name, branch);
    return await importFiles(dir, files, { branch, message: opts.message ?? "Initial commit\n", env });
  };

  const createRepo: GitHttpServer["createRepo"] = async (name, files, opts = {}) => {
    const entries: [string, ImportEntry][] = Object.entries(files);
    if (opts.submodule) {
      const { path, repo } = opts.submodule;
      const sha = (await git(["--git-dir", gitDir(repo), "rev-parse", "--verify", "HEAD"])).trim();
      // Relative to the superproject's URL without its last part: one `..` per part of its name.
      const url = opts.submodule.url ?? `${"../".repeat(checkName(name).split("/").length)}${checkName(repo)}.git`;
      const existing = files[".gitmodules"] ?? "";
      entries.push([".gitmodules", `${existing}[submodule "${path}"]\n\tpath = ${path}\n\turl = ${url}\n`], [path, { gitlink: sha }]);
    }
    return await importRepo(name, entries, { ...(opts.branch ? { branch: opts.branch } : {}) });
  };

  const log: GitHttpServer["log"] = async (name, ref = "HEAD") => {
    const out = await git(["--git-dir", gitDir(name), "log", "--format=%H%x00%an%x00%ae%x00%cn%x00%ce%x00%B%x1e", ref, "--"]);
    return out
      .split("\x1e")
      .map((record) => record.replace(/^\n/, ""))
      .filter(Boolean)
      .map((record) => {
        const [sha, an, ae, cn, ce, message] = record.split("\x00") as [string, string, string, string, string, string];
        return { sha, author: { name: an, email: ae }, committer: { name: cn, email: ce }, message: message.replace(/\n+$/, "") };
      });
  };

  return {
    port,
    root,
    token,
    authHeader,
    url: (name) => `http://${HOST_MACHINE}:${port}/${checkName(name)}.git`,
    localUrl: (name) => `http://127.0.0.1:${port}/${checkName(name)}.git`,
    gitDir,
    createRepo,
    importRepo,
    log,
    requests,
    stop: async () => {
      for (const child of children) {
        child.kill("SIGKILL");
        // git http-backend's own children (upload-pack, pack-objects) may still hold the pipes:
        // let go of our ends, so they get EPIPE and this process is not kept alive by them.
        for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
      }
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export { IMPORT_IDENTITY };
