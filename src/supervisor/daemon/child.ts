// Runs one command as the leader of its own process group and hands its output to a sink
// chunk by chunk. Shared by exec (sink = the HTTP response) and background processes
// (sink = the journal).
//
// Why these rules:
// - `detached: true` gives every command its own session and process group, so signals
//   reach the whole tree (`kill(-pgid)`) and nothing is tied to the supervisor's terminal.
// - Backpressure: when the sink returns false both pipes are paused until resume(); the
//   child then blocks on a full pipe instead of the daemon buffering its output.
// - When the leader exits, whatever is left in its group is killed (SIGKILL): a command's
//   tree lives and dies with it, so nothing leaks and the pipes reach EOF. A process that
//   escaped the group (setsid) but still holds the pipes is cut off after `exitIdleMs`
//   without output (not counted while paused), so the run always finishes.
import { type ChildProcess, spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { Writable } from "node:stream";
import type { Command } from "../protocol.ts";
import { SupervisorError } from "./errors.ts";
import { type CommandUser, commandIdentity } from "./identity.ts";
import { preferForOomKill } from "./oom.ts";

export type OutputStream = "stdout" | "stderr";
/** Returns false to pause the child's output until ChildRun.resume() is called. */
export type OutputSink = (stream: OutputStream, chunk: Buffer) => boolean;

export interface ChildSpec {
  command: Command;
  /** Absolute and existing (see resolveCwd). */
  cwd: string;
  env?: Record<string, string>;
  /** Written then closed; without it (and without holdStdin) stdin is /dev/null. */
  stdin?: string;
  /** stdin is a pipe left open for the caller (ChildRun.stdin), e.g. an agent fed over time.
   * It is destroyed when the run finishes, so no write waits on a process that is gone. */
  holdStdin?: boolean;
  exitIdleMs?: number;
  /** Default: the sandbox user (identity.ts). */
  user?: CommandUser;
}

export interface ChildExit {
  exitCode: number | null;
  signal: string | null;
}

const DEFAULT_EXIT_IDLE_MS = 1000;

/** A string runs through `sh -c`; an array is argv as given. */
export function toArgv(command: Command): [string, ...string[]] {
  if (typeof command === "string") return ["/bin/sh", "-c", command];
  return command as [string, ...string[]];
}

/** Resolves `cwd` under the workspace (absolute paths stay) and checks it is a directory. */
export async function resolveCwd(workspace: string, cwd: string | undefined): Promise<string> {
  const path = cwd === undefined ? workspace : isAbsolute(cwd) ? resolve(cwd) : resolve(workspace, cwd);
  // Checked up front because spawn reports a missing cwd as a missing *command* (ENOENT).
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new SupervisorError("CWD_NOT_FOUND", `The working directory '${path}' does not exist or is not a directory.`);
  return path;
}

/** Sends `signal` to the process group led by `pgid`; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export class ChildRun {
  readonly pid: number;
  /** performance.now() at start: durations must not go negative when the wall clock steps. */
  readonly startedAt = performance.now();
  readonly done: Promise<ChildExit>;
  private resolveDone!: (exit: ChildExit) => void;
  private exit: ChildExit | null = null;
  private finished = false;
  private paused = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private heldStdin: Writable | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly exitIdleMs: number,
  ) {
    this.pid = child.pid!;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Spawns and waits until the OS accepted the command; throws COMMAND_NOT_FOUND & co. */
  static async start(spec: ChildSpec, sink: OutputSink): Promise<ChildRun> {
    const [program, ...args] = toArgv(spec.command);
    const identity = commandIdentity(spec.user);
    const child = spawn(program, args, {
      cwd: spec.cwd,
      env: { ...process.env, ...identity.env, ...spec.env },
      uid: identity.uid,
      gid: identity.gid,
      detached: true,
      stdio: [spec.stdin === undefined && !spec.holdStdin ? "ignore" : "pipe", "pipe", "pipe"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new SupervisorError("COMMAND_NOT_FOUND", `Command not found: ${program}`);
      if (code === "EACCES") throw new SupervisorError("COMMAND_NOT_EXECUTABLE", `Command is not executable: ${program}`);
      // Linux refuses an argument or variable of 128 KiB or more, and all of them past ~2 MiB.
      if (code === "E2BIG") throw new SupervisorError("INVALID_REQUEST", "The command's arguments or environment are too long for the kernel (E2BIG).");
      throw error;
    }
    // The command forked before this line runs, so a child it started this instant keeps
    // the supervisor's score: a short window, and the supervisor's own score is lower still.
    preferForOomKill(child.pid!);
    const run = new ChildRun(child, spec.exitIdleMs ?? DEFAULT_EXIT_IDLE_MS);
    run.wire(sink, spec.stdin, spec.holdStdin === true);
    return run;
  }

  /** The open stdin pipe of a run started with holdStdin; null otherwise. */
  get stdin(): Writable | null {
    return this.heldStdin;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Signals the whole group; false once the run finished or the group is gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.finished) return false;
    return signalGroup(this.pid, signal);
  }

  pause(): void {
    if (this.paused || this.finished) return;
    this.paused = true;
    this.child.stdout?.pause();
    this.child.stderr?.pause();
    this.disarmIdle();
  }

  resume(): void {
    if (!this.paused || this.finished) return;
    this.paused = false;
    this.child.stdout?.resume();
    this.child.stderr?.resume();
    this.armIdle();
  }

  private wire(sink: OutputSink, stdin: string | undefined, holdStdin: boolean): void {
    // Errors after a successful spawn (EPIPE on stdin, a failed kill) must not crash the daemon.
    this.child.on("error", () => {});
    if (this.child.stdin) {
      this.child.stdin.on("error", () => {});
      if (holdStdin) this.heldStdin = this.child.stdin;
      else this.child.stdin.end(stdin);
    }
    for (const stream of ["stdout", "stderr"] as const) {
      this.child[stream]?.on("data", (chunk: Buffer) => {
        this.armIdle();
        if (!sink(stream, chunk)) this.pause();
      });
    }
    this.child.once("exit", (exitCode, signal) => {
      this.exit = { exitCode, signal };
      // The rest of the tree goes with its leader; this also lets the pipes reach EOF.
      signalGroup(this.pid, "SIGKILL");
      this.armIdle();
    });
    this.child.once("close", () => this.finish());
  }

  private armIdle(): void {
    if (!this.exit || this.paused || this.finished) return;
    this.disarmIdle();
    this.idleTimer = setTimeout(() => {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
      this.finish();
    }, this.exitIdleMs);
  }

  private disarmIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private finish(): void {
    if (this.finished || !this.exit) return;
    this.finished = true;
    this.disarmIdle();
    // Node's "close" does not wait for stdin; a held pipe would keep its fd (and writers) forever.
    this.heldStdin?.destroy();
    this.resolveDone(this.exit);
  }
}
