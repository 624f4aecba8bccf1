// Runs the real supervisor daemon as a child process on a unix socket in a temporary
// folder (no bwrap: the driver's isolation is tested elsewhere) and talks to it with the
// real client. Waits on events (the socket answering, a pid disappearing), never on fixed
// sleeps; polling loops have deadlines and say what they waited for.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../src/package-root.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { ExecEvent, ExecExitEvent, ExecRequest, LogExitLine, LogRecord } from "../../src/supervisor/protocol.ts";

export interface Daemon {
  child: ChildProcess;
  pid: number;
  dir: string;
  socketPath: string;
  stateDir: string;
  workspace: string;
  client: SupervisorClient;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

export interface DaemonOptions {
  /** Reuse a folder (state survives across daemons); default: a fresh temporary one. */
  dir?: string;
  /** Extra arguments such as --kill-grace-ms. */
  args?: string[];
  /** "source" runs src/ through tsx; "bundle" runs dist/supervisor.js. */
  entry?: "source" | "bundle";
}

const started: Daemon[] = [];

/** A short temporary folder (unix socket paths are limited to ~107 bytes). */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "sup-"));
}

export async function startDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const dir = options.dir ?? tempDir();
  const socketPath = join(dir, "s.sock");
  const stateDir = join(dir, "state");
  const workspace = join(dir, "workspace");
  mkdirSync(workspace, { recursive: true });
  const root = packageRoot();
  const entry = options.entry === "bundle" ? [join(root, "dist", "supervisor.js")] : ["--import", "tsx", join(root, "src", "supervisor", "daemon", "main.ts")];
  const child = spawn(process.execPath, [...entry, "--socket", socketPath, "--state", stateDir, "--workspace", workspace, ...(options.args ?? [])], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const client = new SupervisorClient({ socketPath });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await Promise.race([exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 25))]);
    if (state !== "running") throw new Error(`the supervisor exited (${state.code ?? state.signal}) before answering:\n${output}`);
    const answered = await client.health(AbortSignal.timeout(2000)).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the supervisor did not answer within 30 s:\n${output}`);
    }
  }
  const daemon: Daemon = {
    child,
    pid: child.pid!,
    dir,
    socketPath,
    stateDir,
    workspace,
    client,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return (await exited).code;
    },
  };
  started.push(daemon);
  return daemon;
}

/** Stops every daemon this file started and removes their folders (for `after`). */
export async function stopAllDaemons(): Promise<void> {
  for (const daemon of started.splice(0)) {
    await daemon.stop();
    rmSync(daemon.dir, { recursive: true, force: true });
  }
}

export interface ExecResult {
  pid: number;
  stdout: string;
  stderr: string;
  exit: ExecExitEvent;
  events: ExecEvent[];
}

/** Runs an exec to the end and collects it (for small outputs only). */
export async function execCollect(client: SupervisorClient, body: ExecRequest): Promise<ExecResult> {
  const events: ExecEvent[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for await (const event of await client.exec(body)) {
    events.push(event);
    if (event.type === "stdout") out.push(Buffer.from(event.data, "base64"));
    if (event.type === "stderr") err.push(Buffer.from(event.data, "base64"));
  }
  const first = events[0];
  const last = events.at(-1);
  if (first?.type !== "started" || last?.type !== "exit") throw new Error(`unexpected exec events: ${JSON.stringify(events)}`);
  return { pid: first.pid, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), exit: last, events };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` every 20 ms until true; throws naming `what` after the deadline. */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The peak resident memory of `pid` in MiB (VmHWM), from /proc. */
export function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmHWM for ${pid}`);
  return Number(match[1]) / 1024;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on the socket without the client (to send what the client never would). */
export function rawRequest(
  socketPath: string,
  options: { method: string; path: string; body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && !options.chunked) headers["content-length"] = String(Buffer.byteLength(options.body));
    let answered = false;
    const req = request({ socketPath, method: options.method, path: options.path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    // A reset with no answer at all must fail the test, not leave it waiting forever.
    req.on("close", () => {
      if (!answered) reject(new Error(`${options.method} ${options.path}: the connection closed before any response`));
    });
    req.end(options.body);
  });
}

/** True when `pid` no longer runs. A zombie counts as gone: orphans are reparented to this
 * machine's init, which may not reap them (inside a sandbox bwrap's init does). */
export function processGone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

export interface CollectedLogs {
  records: LogRecord[];
  exit: LogExitLine | undefined;
}

/** Reads a logs response to its end. */
export async function collectLogs(client: SupervisorClient, id: string, options: { after?: number; follow?: boolean } = {}): Promise<CollectedLogs> {
  const records: LogRecord[] = [];
  let exit: LogExitLine | undefined;
  for await (const line of await client.processLogs(id, { ...options, signal: AbortSignal.timeout(30_000) })) {
    if ("seq" in line) records.push(line);
    else exit = line;
  }
  return { records, exit };
}

/** The decoded text of the records of one stream. */
export function streamText(records: LogRecord[], stream: LogRecord["stream"]): string {
  return Buffer.concat(records.filter((record) => record.stream === stream).map((record) => Buffer.from(record.data, "base64"))).toString();
}
