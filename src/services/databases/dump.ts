// Dump and restore of a project's database with the host's PostgreSQL client tools:
// `pg_dump` streams a plain SQL dump out, `psql` loads one in. Neither ships with the embedded
// server's npm package, so they are looked for on the host (OUTPOST_PG_CLIENT_BIN, Debian's
// /usr/lib/postgresql/<major>/bin, PATH); pg_dump refuses a server newer than itself, so the
// one chosen must be at least the server's major. When none fits, the answer is a 501 that
// names the package to install.
//
// The tools log in as the project's own role (never a superuser), through libpq's
// environment: the password never appears in argv (other users' `ps` would show it), and
// the control plane's own PG* variables are not inherited.
//
// A restore feeds SQL that someone uploaded into psql, which also obeys backslash commands
// (`\!` runs a shell on this host, `\o` writes files, `\copy` reads them). So psql is put
// in restricted mode first (`\restrict <random key>`, psql 15.14 / 16.10 / 17.6 and later):
// then no backslash command runs, and the key, which the upload cannot know, is the only way
// out. pg_dump's own `\restrict`/`\unrestrict` pair around a dump is taken out, so that its
// dumps load. A psql without restricted mode is refused like a missing one.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Principal } from "../../domain/authorization.ts";
import { OutpostError } from "../../domain/errors.ts";
import type { DatabaseAccess, ProjectDatabase } from "./data-access.ts";
import type { ToolConnection } from "./provisioner.ts";

export type { ToolConnection };

export interface ClientTool {
  path: string;
  major: number;
  minor: number;
  /** As `--version` says it, e.g. "15.20 (Debian 15.20-0+deb12u1)". */
  version: string;
}

export interface DumpOptions {
  signal?: AbortSignal;
  /** The whole dump or restore, connecting included; then the tool is killed. */
  timeoutMs?: number;
}

/** Long enough for a database of a few GB; the work stops with the tool's own error beyond. */
export const DUMP_TIMEOUT_MS = 60 * 60_000;
export const RESTORE_TIMEOUT_MS = 60 * 60_000;
/** How much of a tool's stderr is kept for the error (its last lines say what went wrong). */
const STDERR_TAIL = 8 * 1024;
const MESSAGE_MAX = 1000;
const VERSION_TIMEOUT_MS = 10_000;

/** The package that brings client tools of this major, on Debian and Ubuntu. */
export const clientPackageFix = (major: number) =>
  `apt-get install -y postgresql-client-${major} (or set OUTPOST_PG_CLIENT_BIN to the bin/ folder of PostgreSQL client tools ${major} or newer)`;

/** psql's restricted mode (`\restrict`) came with these minor releases of each major. */
const RESTRICT_SINCE: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };
export function supportsRestrict(tool: Pick<ClientTool, "major" | "minor">): boolean {
  if (tool.major >= 18) return true;
  const since = RESTRICT_SINCE[tool.major];
  return since !== undefined && tool.minor >= since;
}

/** `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` → 15, 20; `18beta1` → 18, 0. */
export function parseToolVersion(output: string): Omit<ClientTool, "path"> | null {
  const match = /\(PostgreSQL\)\s+((\d+)(?:\.(\d+))?\S*(?:\s.*)?)$/m.exec(output.trim());
  if (!match?.[1] || !match[2]) return null;
  return { version: match[1].trim(), major: Number(match[2]), minor: Number(match[3] ?? 0) };
}

/** `15.18`, `15.18 (Debian …)`, `18beta1` → the major. */
export function serverMajor(serverVersion: string): number {
  const major = Number.parseInt(serverVersion, 10);
  return Number.isFinite(major) ? major : 0;
}

/**
 * The use cases: a dump is for whoever may read the database's password (editor: it is all
 * the data); a restore, for whoever may change the project (editor).
 */
export class DatabaseDumps {
  constructor(
    private readonly access: DatabaseAccess,
    private readonly tools: PgClientTools,
    private readonly options: { dumpTimeoutMs?: number; restoreTimeoutMs?: number } = {},
  ) {}

  /** The plain SQL dump, streaming; `name` is the database's (for the download's file name). */
  async dump(principal: Principal, ref: string, signal?: AbortSignal): Promise<{ name: string; body: AsyncIterable<Buffer> }> {
    const database = await this.access.main(principal, ref, "project.env.reveal");
    const tool = await this.tools.pgDump(await this.#serverMajor(database));
    const body = await dumpDatabase(tool, await this.access.connection(database), { signal, timeoutMs: this.options.dumpTimeoutMs });
    return { name: database.ref.name, body };
  }

  /** Loads SQL into the project's database, all or nothing. */
  async restore(principal: Principal, ref: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<{ name: string; durationMs: number }> {
    const database = await this.access.main(principal, ref, "project.update");
    const tool = await this.tools.psql(await this.#serverMajor(database));
    const started = performance.now();
    await restoreDatabase(tool, await this.access.connection(database), body, { signal, timeoutMs: this.options.restoreTimeoutMs });
    return { name: database.ref.name, durationMs: Math.round(performance.now() - started) };
  }

  async #serverMajor(database: ProjectDatabase): Promise<number> {
    const facts = await database.provisioner.inspect(database.ref).catch((error: Error) => {
      throw new OutpostError("DATABASE_SERVER_UNAVAILABLE", `The project databases' server did not answer: ${error.message}`, { cause: error });
    });
    if (!facts.exists) throw new OutpostError("DATABASE_MISSING", `Database ${database.ref.name} is gone from its server.`);
    return serverMajor(facts.serverVersion);
  }
}

/** Finds pg_dump and psql on this host, and their versions (each asked once). */
export class PgClientTools {
  readonly #clientBin: string | undefined;
  readonly #searchPath: string;
  readonly #debianRoot: string;
  readonly #versions = new Map<string, Promise<ClientTool | null>>();

  constructor(options: { clientBin?: string; searchPath?: string; debianRoot?: string } = {}) {
    this.#clientBin = options.clientBin || undefined;
    this.#searchPath = options.searchPath ?? process.env.PATH ?? "";
    this.#debianRoot = options.debianRoot ?? "/usr/lib/postgresql";
  }

  /** pg_dump for a server of this major: the newest found that is not older than it. */
  async pgDump(serverMajorVersion: number): Promise<ClientTool> {
    const found = await this.#candidates("pg_dump");
    const fit = found.filter((tool) => tool.major >= serverMajorVersion).sort(newestFirst)[0];
    if (fit) return fit;
    const seen = found.length ? ` (found ${found.map((t) => `${t.path} ${t.version}`).join(", ")}: older than the server)` : "";
    throw new OutpostError("DATABASE_DUMP_UNAVAILABLE", `No pg_dump for PostgreSQL ${serverMajorVersion} on this host${seen}.`, {
      fix: clientPackageFix(serverMajorVersion),
      details: { tool: "pg_dump", serverMajor: serverMajorVersion },
    });
  }

  /** psql with restricted mode; the newest found, preferring one of the server's major or newer. */
  async psql(serverMajorVersion: number): Promise<ClientTool> {
    const found = await this.#candidates("psql");
    const safe = found.filter(supportsRestrict).sort(newestFirst);
    const fit = safe.find((tool) => tool.major >= serverMajorVersion) ?? safe[0];
    if (fit) return fit;
    const seen = found.length ? ` (found ${found.map((t) => `${t.path} ${t.version}`).join(", ")}: too old for \\restrict)` : "";
    throw new OutpostError("DATABASE_DUMP_UNAVAILABLE", `No psql that can load a dump safely on this host${seen}.`, {
      fix: clientPackageFix(Math.max(serverMajorVersion, 15)),
      details: { tool: "psql", serverMajor: serverMajorVersion },
    });
  }

  /** Every copy of the tool found: OUTPOST_PG_CLIENT_BIN alone when it is set. */
  async #candidates(name: "pg_dump" | "psql"): Promise<ClientTool[]> {
    const paths = this.#clientBin ? [join(this.#clientBin, name)] : [...this.#debianPaths(name), ...this.#pathDirs().map((dir) => join(dir, name))];
    const tools = await Promise.all([...new Set(paths)].filter(executable).map((path) => this.#version(path)));
    return tools.filter((tool): tool is ClientTool => tool !== null);
  }

  #debianPaths(name: string): string[] {
    try {
      return readdirSync(this.#debianRoot)
        .filter((entry) => /^\d+$/.test(entry))
        .map((major) => join(this.#debianRoot, major, "bin", name));
    } catch {
      return [];
    }
  }

  #pathDirs(): string[] {
    return this.#searchPath.split(delimiter).filter((dir) => dir.startsWith("/"));
  }

  #version(path: string): Promise<ClientTool | null> {
    let known = this.#versions.get(path);
    if (!known) {
      known = new Promise((resolve) => {
        execFile(path, ["--version"], { timeout: VERSION_TIMEOUT_MS, env: toolEnv(null) }, (error, stdout) => {
          const parsed = error ? null : parseToolVersion(stdout);
          resolve(parsed ? { path, ...parsed } : null);
        });
      });
      this.#versions.set(path, known);
    }
    return known;
  }
}

const newestFirst = (a: ClientTool, b: ClientTool) => b.major - a.major || b.minor - a.minor;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** libpq's settings for the tool, and nothing of this process's own environment but PATH. */
export function toolEnv(connection: ToolConnection | null, application = "outpost"): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", PGAPPNAME: application, PGCONNECT_TIMEOUT: "10" };
  if (connection) {
    Object.assign(env, {
      PGHOST: connection.host,
      PGPORT: String(connection.port),
      PGUSER: connection.user,
      PGDATABASE: connection.database,
      PGPASSWORD: connection.password,
      // Nothing of the host's own client configuration applies to a project's login.
      PGPASSFILE: "/dev/null",
      PGSERVICEFILE: "/dev/null",
      PGSYSCONFDIR: "/nonexistent",
    });
  }
  return env;
}

/** The last lines of a tool's stderr, bounded. */
class StderrTail {
  #text = "";

  constructor(child: ChildProcess) {
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.#text = (this.#text + chunk).slice(-STDERR_TAIL);
    });
  }

  message(fallback: string): string {
    const lines = this.#text.trim().split("\n").filter(Boolean);
    let out = "";
    for (let i = lines.length - 1; i >= 0; i--) {
      const next = out ? `${lines[i]}\n${out}` : (lines[i] ?? "");
      if (next.length > MESSAGE_MAX) break;
      out = next;
    }
    return out || fallback;
  }
}

/** Kills the tool when the signal aborts or the time is up; says which, for the error. */
function bound(child: ChildProcess, options: DumpOptions, defaultMs: number): { reason: () => string | null; clear: () => void } {
  let reason: string | null = null;
  const kill = (why: string) => {
    reason ??= why;
    child.kill("SIGKILL");
  };
  const timer = setTimeout(() => kill(`it took longer than ${Math.round((options.timeoutMs ?? defaultMs) / 1000)} s`), options.timeoutMs ?? defaultMs);
  const onAbort = () => kill("it was cancelled");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  return {
    reason: () => reason,
    clear: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    },
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Starts `pg_dump --format=plain --no-owner --no-privileges` and resolves once its first
 * bytes came (so a refused login is an error answer, not a broken download); the SQL then
 * streams as the consumer reads it. A failure later throws from the iterator, with
 * pg_dump's last words: the consumer cuts its answer short.
 */
export async function dumpDatabase(tool: ClientTool, connection: ToolConnection, options: DumpOptions = {}): Promise<AsyncIterable<Buffer>> {
  const child = spawn(tool.path, ["--format=plain", "--no-owner", "--no-privileges"], {
    env: toolEnv(connection, "outpost-dump"),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr = new StderrTail(child);
  const limits = bound(child, options, DUMP_TIMEOUT_MS);
  const done = exited(child).finally(limits.clear);
  const failure = async () => {
    const end = await done;
    if (end.code === 0) return null;
    const why = limits.reason() ?? (end.error ? end.error.message : null);
    return new OutpostError("DATABASE_DUMP_FAILED", `pg_dump failed${why ? ` (${why})` : ""}: ${stderr.message(`exit ${end.code ?? end.signal}`)}`, {
      details: { exitCode: end.code },
    });
  };

  const stdout = child.stdout as Readable;
  const iterator = stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next().catch(() => ({ done: true, value: undefined }) as IteratorResult<Buffer>);
  if (first.done) {
    const error = await failure();
    if (error) throw error;
  }
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (!first.done) yield first.value;
        while (true) {
          const next = await iterator.next();
          if (next.done) break;
          yield next.value;
        }
        const error = await failure();
        if (error) throw error;
      } finally {
        // The consumer stopped early (the client went away): the dump stops too.
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        stdout.destroy();
      }
    },
  };
}

/**
 * Loads SQL into the database with `psql -v ON_ERROR_STOP=1 --single-transaction -X -q`,
 * in restricted mode (see the top). All or nothing: the first error rolls everything back
 * and is thrown with psql's last lines. The body is read as fast as psql takes it.
 */
export async function restoreDatabase(tool: ClientTool, connection: ToolConnection, body: AsyncIterable<Uint8Array>, options: DumpOptions = {}): Promise<void> {
  if (!supportsRestrict(tool)) {
    throw new OutpostError("DATABASE_DUMP_UNAVAILABLE", `psql ${tool.version} (${tool.path}) has no restricted mode to load uploaded SQL safely.`, {
      fix: clientPackageFix(Math.max(tool.major, 15)),
    });
  }
  const child = spawn(tool.path, ["-v", "ON_ERROR_STOP=1", "--single-transaction", "-X", "-q", "-f", "-"], {
    env: toolEnv(connection, "outpost-restore"),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stderr = new StderrTail(child);
  // Query results (a dump's `SELECT set_config(…)`) are of no interest: read and dropped.
  child.stdout?.resume();
  const limits = bound(child, options, RESTORE_TIMEOUT_MS);
  const done = exited(child).finally(limits.clear);
  const key = randomBytes(24).toString("hex");
  let broken: Error | null = null;
  // An upload that breaks off must not look like the end of the SQL to psql (it would
  // commit half of it): psql is killed before its input is closed.
  async function* guarded() {
    try {
      yield* restricted(body, key);
    } catch (error) {
      broken = error as Error;
      child.kill("SIGKILL");
      throw error;
    }
  }
  // psql may stop reading early (an error, a kill): the rest of the body is not its business.
  const feeding = pipeline(Readable.from(guarded()), child.stdin as NodeJS.WritableStream).catch(() => {});
  const end = await done;
  await feeding;
  if (end.code === 0 && broken === null) return;
  const why = limits.reason() ?? (broken ? `the upload broke off: ${(broken as Error).message}` : end.error ? end.error.message : null);
  throw new OutpostError(
    "DATABASE_RESTORE_FAILED",
    `psql failed${why ? ` (${why})` : ""}; its transaction was rolled back: ${stderr.message(`exit ${end.code ?? end.signal}`).replace(/\bpsql:<stdin>:(\d+):/g, (_, line: string) => `line ${Number(line) - 1}:`)}`,
    { details: { exitCode: end.code } },
  );
}

const HEADER_MAX = 64 * 1024;
const NEWLINE = Buffer.from("\n");
const TAIL_MAX = 4096;
const RESTRICT_LINE = /^\\restrict ([A-Za-z0-9]+)[ \t]*\r?$/;

/**
 * The body behind our own `\restrict <key>` (a line more: psql's line numbers are one
 * ahead), with pg_dump's `\restrict` line (among the comments it starts with) left blank and
 * its matching `\unrestrict` (the very last line) taken out. Any other backslash command
 * stays, and psql refuses it.
 */
export async function* restricted(body: AsyncIterable<Uint8Array>, key: string): AsyncGenerator<Buffer> {
  yield Buffer.from(`\\restrict ${key}\n`);
  let head: Buffer | null = Buffer.alloc(0);
  let theirs: string | null = null;
  let tail = Buffer.alloc(0);
  const pass = function* (chunk: Buffer): Generator<Buffer> {
    if (theirs === null) {
      yield chunk;
      return;
    }
    // Keep the last bytes back: they may be the closing `\unrestrict`.
    const joined = Buffer.concat([tail, chunk]);
    if (joined.length <= TAIL_MAX) {
      tail = joined;
      return;
    }
    tail = joined.subarray(joined.length - TAIL_MAX);
    yield joined.subarray(0, joined.length - TAIL_MAX);
  };
  for await (const piece of body) {
    const chunk = Buffer.from(piece);
    if (head === null) {
      yield* pass(chunk);
      continue;
    }
    head = Buffer.concat([head, chunk]);
    const read = readHeader(head, head.length > HEADER_MAX);
    if (read === null) continue;
    theirs = read.key;
    const rest = head;
    head = null;
    yield* pass(read.key === null ? rest : Buffer.concat([rest.subarray(0, read.start), NEWLINE, rest.subarray(read.end)]));
  }
  if (head !== null) {
    const read = readHeader(head, true);
    theirs = read?.key ?? null;
    if (read?.key) head = Buffer.concat([head.subarray(0, read.start), NEWLINE, head.subarray(read.end)]);
    yield* pass(head);
  }
  if (theirs !== null) {
    const text = tail.toString("latin1");
    const closing = new RegExp(`(^|\\n)\\\\unrestrict ${theirs}[ \\t]*\\r?\\n?\\s*$`).exec(text);
    yield closing ? tail.subarray(0, closing.index + (closing[1] ?? "").length) : tail;
  }
}

/**
 * Reads the start of a dump up to its first statement: the `\restrict` line among the blank
 * and comment lines there (its byte range and key), `{key: null}` when there is none, or null
 * when more input is needed to tell (`final`: no more is coming).
 */
function readHeader(head: Buffer, final: boolean): { key: string | null; start: number; end: number } | null {
  let offset = 0;
  while (offset < head.length) {
    const newline = head.indexOf(0x0a, offset);
    if (newline === -1 && !final) return null;
    const end = newline === -1 ? head.length : newline + 1;
    const line = head.subarray(offset, end).toString("latin1").replace(/\n$/, "");
    const match = RESTRICT_LINE.exec(line);
    if (match?.[1]) return { key: match[1], start: offset, end };
    if (line.trim() !== "" && !line.startsWith("--")) return { key: null, start: 0, end: 0 };
    offset = end;
  }
  return final ? { key: null, start: 0, end: 0 } : null;
}
