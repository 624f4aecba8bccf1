// Runs the real supervisor daemon as a child process (no bwrap: the driver's isolation is
// tested elsewhere). The test plays the control plane: it listens on a unix socket in a
// temporary folder, the daemon dials it, the link is accepted with the real code
// (link/accept.ts) and the test talks to the daemon with the real client over it. Waits on
// events (the link coming up, a pid disappearing), never on fixed sleeps; polling loops
// have deadlines and say what they waited for.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../src/package-root.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import { acceptLink } from "../../src/supervisor/link/accept.ts";
import { LinkRegistry } from "../../src/supervisor/link/registry.ts";
import type { LinkSession } from "../../src/supervisor/link/session.ts";
import type { ExecEvent, ExecExitEvent, ExecRequest, LogExitLine, LogRecord } from "../../src/supervisor/protocol.ts";

export interface Daemon {
  child: ChildProcess;
  pid: number;
  dir: string;
  /** Where the test's "control plane" listens for the daemon's link. */
  linkPath: string;
  stateDir: string;
  workspace: string;
  sandboxId: string;
  /** The current link (replaced when the daemon reconnects). */
  session: () => LinkSession;
  registry: LinkRegistry;
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
const listeners: Server[] = [];

/** A short temporary folder (unix socket paths are limited to ~107 bytes). */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "sup-"));
}

/** Listens like the control plane does for one sandbox, attaching verified links to a registry. */
export async function listenForLink(linkPath: string, sandboxId: string, token: string, registry: LinkRegistry): Promise<Server> {
  rmSync(linkPath, { force: true });
  const server = createServer((socket) => {
    acceptLink(socket, {
      verify: (hello) =>
        hello.sandboxId !== sandboxId
          ? { code: "LINK_WRONG_SANDBOX", message: `not ${hello.sandboxId}`, claimed: hello.sandboxId }
          : hello.token !== token
            ? { code: "LINK_BAD_TOKEN", message: "bad token", claimed: hello.sandboxId }
            : null,
    }).then(
      (session) => registry.attach(session),
      (error) => registry.refused(sandboxId, error.refusal),
    );
  });
  await new Promise<void>((resolve) => server.listen(linkPath, resolve));
  listeners.push(server);
  return server;
}

export async function startDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const dir = options.dir ?? tempDir();
  const linkPath = join(dir, "l.sock");
  const tokenFile = join(dir, "token");
  const stateDir = join(dir, "state");
  const workspace = join(dir, "workspace");
  const sandboxId = `sbx_${randomBytes(6).toString("hex")}`;
  const token = randomBytes(24).toString("base64url");
  mkdirSync(workspace, { recursive: true });
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const registry = new LinkRegistry();
  await listenForLink(linkPath, sandboxId, token, registry);
  const root = packageRoot();
  const entry = options.entry === "bundle" ? [join(root, "dist", "supervisor.js")] : ["--import", "tsx", join(root, "src", "supervisor", "daemon", "main.ts")];
  const child = spawn(
    process.execPath,
    [
      ...entry,
      "--link",
      linkPath,
      "--token-file",
      tokenFile,
      "--sandbox-id",
      sandboxId,
      "--state",
      stateDir,
      "--workspace",
      workspace,
      ...(options.args ?? []),
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const linked = await Promise.race([registry.wait(sandboxId, { timeoutMs: 30_000 }).catch((error: Error) => error), exited]);
  if (!linked || !("info" in linked)) {
    child.kill("SIGKILL");
    throw new Error(`the supervisor did not connect (${linked instanceof Error ? linked.message : `exit ${JSON.stringify(linked)}`}):\n${output}`);
  }
  const session = () => registry.current(sandboxId) ?? linked;
  const daemon: Daemon = {
    child,
    pid: child.pid!,
    dir,
    linkPath,
    stateDir,
    workspace,
    sandboxId,
    session,
    registry,
    // Always the current link, so a test that makes the daemon reconnect keeps its client.
    client: new SupervisorClient({
      transport: { request: (request) => session().request(request), openDuplex: (request) => session().openDuplex(request) },
    }),
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
    daemon.registry.closeAll("test over");
    rmSync(daemon.dir, { recursive: true, force: true });
  }
  for (const server of listeners.splice(0)) server.close();
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
  headers: Record<string, string | undefined>;
  body: string;
}

/** One request over the daemon's link without the client (to send what the client never would). */
export async function rawRequest(
  daemon: Daemon,
  options: { method: string; path: string; body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean },
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined && !options.chunked) headers["content-length"] = String(Buffer.byteLength(options.body));
  const {
    status,
    headers: answered,
    stream,
  } = await daemon.session().openDuplex({
    method: options.method as "GET" | "POST",
    path: options.path,
    headers,
    signal: AbortSignal.timeout(30_000),
    first: (out) => out.end(options.body),
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { status, headers: answered, body: Buffer.concat(chunks).toString() };
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
