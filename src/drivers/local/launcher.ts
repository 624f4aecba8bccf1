// Starts bwrap for one sandbox, detached, and learns which host processes it became.
//   1. spawn bwrap in its own session (detached) with stdout/stderr appended to the
//      sandbox log, as the sandbox's host uid when given: killing the control plane
//      leaves the sandbox running, and nothing of it runs as host root. bwrap's options
//      go through a pipe (--args 5): the sandbox's pid-1 is bwrap, and its visible
//      command line would otherwise show the sandbox the host's folder layout; only a
//      marker (sandbox id + a hash of the root, to find the processes again) and the
//      command (inside paths) stay visible. The seccomp program (seccomp.ts) goes
//      through a pipe too (--seccomp 6), written whole and closed at once: bwrap reads
//      it to EOF, and it is far smaller than a pipe's buffer, so the write never waits
//      on bwrap. bwrap's status (--json-status-fd 7) goes to a file the launcher
//      truncates at each start, the control plane's and 0600 (bwrap writes through the
//      inherited fd): {"child-pid": N}, then {"exit-code": N} when the sandbox's command
//      ends, which exit-status.ts reads even when no control plane was bwrap's parent;
//   2. read {"child-pid": N, …} from bwrap's info fd (3) to its end: N is the host pid
//      of the sandbox's pid-1;
//   3. while bwrap waits on its block fd (4) — namespaces are set up, nothing inside
//      runs yet — call beforeRelease (cgroups, runtime record), so no process of the
//      sandbox ever runs outside its cgroups or untracked;
//   4. write one byte to the block fd: the supervisor starts.
// Any failure before step 4 kills bwrap's whole process group, so a half-started
// sandbox never lingers. Limits: the info must arrive within timeoutMs.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, constants, fchmodSync, openSync, readSync, renameSync, statSync, writeSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { DriverError } from "../errors.ts";
import type { Owner } from "./layout.ts";
import { signalPid } from "./processes.ts";

export const INFO_FD = 3;
export const BLOCK_FD = 4;
export const ARGS_FD = 5;
export const SECCOMP_FD = 6;
export const STATUS_FD = 7;
/** An image sandbox's user namespace (bwrap --userns 8), made by rootfs/user-namespace.ts. */
export const USERNS_FD = 8;
/** Visible in bwrap's command line as `--setenv OUTPOST_SANDBOX <marker>` (the --clearenv
 *  that follows in the piped args keeps it out of the sandbox's environment). */
export const MARKER_ENV = "OUTPOST_SANDBOX";

/** The visible part of a sandbox's bwrap command line, to find its processes by. */
export const markerArgs = (marker: string) => ["--setenv", MARKER_ENV, marker];
/** The log is rotated (one old copy, .1) when it grows past this at a start. */
export const LOG_ROTATE_BYTES = 4 * 1024 * 1024;

export interface LaunchedPids {
  bwrapPid: number;
  childPid: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export interface LaunchOptions {
  bwrapPath: string;
  /** From bwrapArgs({ infoFd: INFO_FD, blockFd: BLOCK_FD, seccompFd: SECCOMP_FD when
   *  `seccomp` is given, statusFd: STATUS_FD when `statusPath` is, … }). */
  args: string[];
  /** The seccomp program (seccomp.ts seccompFilter), handed to bwrap on SECCOMP_FD. */
  seccomp?: Buffer;
  /** The user namespace bwrap enters, passed on USERNS_FD (args must say --userns 8). */
  usernsFd?: number;
  /** File bwrap's status goes to on STATUS_FD (<sandbox dir>/status.json); truncated here. */
  statusPath?: string;
  /** Unique per sandbox and driver root (layout.ts sandboxMarker). */
  marker: string;
  logPath: string;
  /** Run bwrap as this host uid/gid (the control plane is root). */
  owner?: Owner;
  signal: AbortSignal;
  /** How long bwrap may take to report the child pid (ms). */
  timeoutMs: number;
  /** Runs while the sandbox is blocked, before anything inside starts. */
  beforeRelease(pids: LaunchedPids): void | Promise<void>;
}

export interface Launched extends LaunchedPids {
  /** Resolves when bwrap exits (only while this control plane is its parent). */
  exited: Promise<ExitInfo>;
  /** Set once bwrap has exited. */
  exit(): ExitInfo | undefined;
}

/** The last `maxBytes` of the sandbox log (for error messages). */
export function logTail(path: string, maxBytes = 4000): string {
  let fd: number | undefined;
  try {
    const size = statSync(path).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fd = openSync(path, "r");
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString("utf8").trim();
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function rotateLog(path: string): void {
  try {
    if (statSync(path).size > LOG_ROTATE_BYTES) renameSync(path, `${path}.1`);
  } catch {
    // no log yet
  }
}

export function startFailed(message: string, logPath: string, details: Record<string, unknown> = {}): DriverError {
  const tail = logTail(logPath);
  return new DriverError("SANDBOX_START_FAILED", tail ? `${message}; log tail:\n${tail}` : message, { details: { ...details, logTail: tail, log: logPath } });
}

export async function launch(options: LaunchOptions): Promise<Launched> {
  options.signal.throwIfAborted();
  // bwrap only takes options from --args; the command (after "--", paths inside the
  // sandbox only) stays on the visible command line.
  const split = options.args.indexOf("--");
  if (split < 0) throw new Error("bwrap args must end with -- and the command");
  const bwrapOptions = options.args.slice(0, split);
  const command = options.args.slice(split);
  // An fd named in the args but not passed (or the reverse) would fail in bwrap, later and less clearly.
  requireFdOption(bwrapOptions, "--seccomp", SECCOMP_FD, options.seccomp !== undefined);
  requireFdOption(bwrapOptions, "--json-status-fd", STATUS_FD, options.statusPath !== undefined);
  requireFdOption(bwrapOptions, "--userns", USERNS_FD, options.usernsFd !== undefined);
  rotateLog(options.logPath);
  const logFd = openSync(options.logPath, "a", 0o600);
  let statusFd: number | undefined;
  let child: ChildProcess;
  try {
    if (options.statusPath) statusFd = openStatusFile(options.statusPath);
    writeSync(logFd, `--- ${new Date().toISOString()} starting sandbox\n`);
    child = spawn(options.bwrapPath, [...markerArgs(options.marker), "--args", String(ARGS_FD), ...command], {
      detached: true,
      // "ignore" past fd 2 leaves that fd closed in bwrap.
      stdio: [
        "ignore",
        logFd,
        logFd,
        "pipe",
        "pipe",
        "pipe",
        options.seccomp ? "pipe" : "ignore",
        statusFd ?? "ignore",
        ...(options.usernsFd !== undefined ? [options.usernsFd] : []),
      ],
      cwd: "/",
      // bwrap itself needs nothing from our environment (it runs --clearenv inside).
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      ...(options.owner ? { uid: options.owner.uid, gid: options.owner.gid } : {}),
    });
  } finally {
    closeSync(logFd); // the child holds its own copies
    if (statusFd !== undefined) closeSync(statusFd);
  }
  child.unref();

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    const settle = (info: ExitInfo) => {
      exitInfo = info;
      resolve(info);
    };
    child.once("exit", (code, signal) => settle({ code, signal }));
    child.once("error", (error) => settle({ code: null, signal: null, error }));
  });
  const info = child.stdio[INFO_FD] as Readable;
  const block = child.stdio[BLOCK_FD] as Writable;
  const extraPipes = child.stdio as unknown as Array<Readable | Writable | null>;
  const argsPipe = extraPipes[ARGS_FD] as Writable;
  const seccompPipe = options.seccomp ? (extraPipes[SECCOMP_FD] as Writable) : undefined;
  // The pipes must not keep the control plane alive, nor die with an unhandled error.
  for (const pipe of [info, block, argsPipe, seccompPipe]) pipe?.on("error", () => {});
  // bwrap reads NUL-terminated arguments until EOF before doing anything else.
  argsPipe.end(bwrapOptions.map((arg) => `${arg}\0`).join(""));
  seccompPipe?.end(options.seccomp);

  let childPid: number | undefined;
  const killAll = () => {
    if (child.pid) {
      // bwrap leads its own process group (detached); its blocked child is still in it.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (childPid) signalPid(childPid, "SIGKILL");
  };

  try {
    childPid = await readChildPid(info, exited, options);
    if (!child.pid) throw startFailed("bwrap did not start", options.logPath);
    await options.beforeRelease({ bwrapPid: child.pid, childPid });
    options.signal.throwIfAborted();
  } catch (error) {
    killAll();
    info.destroy();
    block.destroy();
    throw error;
  }
  block.end("1");
  info.destroy();
  return { bwrapPid: child.pid, childPid, exited, exit: () => exitInfo };
}

function requireFdOption(bwrapOptions: string[], option: string, fd: number, given: boolean): void {
  const index = bwrapOptions.indexOf(option);
  if (given && (index < 0 || bwrapOptions[index + 1] !== String(fd))) throw new Error(`bwrap args must contain ${option} ${fd}`);
  if (!given && index >= 0) throw new Error(`bwrap args name ${option} but the launcher was not given its content`);
}

/** Opens (creating or truncating) bwrap's status file: 0600, the control plane's, never
 *  through a symlink. */
function openStatusFile(path: string): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600); // an existing file keeps its mode through open
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/** Reads bwrap's info document to its end. bwrap writes it in several pieces (child pid,
 *  then namespace ids) and closes the fd before it lets the sandbox run; closing our end
 *  early would kill bwrap with SIGPIPE on its next write. */
function readChildPid(info: Readable, exited: Promise<ExitInfo>, options: LaunchOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let text = "";
    let settled = false;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      info.off("data", onData);
      info.off("end", onEnd);
      action();
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8");
    };
    const onEnd = () => {
      let pid: unknown;
      try {
        pid = (JSON.parse(text) as Record<string, unknown>)["child-pid"];
      } catch {
        pid = undefined;
      }
      if (typeof pid === "number" && Number.isInteger(pid) && pid > 0) finish(() => resolve(pid as number));
      // No document at all means bwrap failed before it forked; its exit says why.
      else if (text.trim() !== "") finish(() => reject(startFailed(`bwrap wrote an unexpected info document: ${text.slice(0, 200)}`, options.logPath)));
    };
    const onAbort = () => finish(() => reject(options.signal.reason));
    const timer = setTimeout(
      () => finish(() => reject(startFailed(`bwrap did not report its child within ${options.timeoutMs} ms`, options.logPath))),
      options.timeoutMs,
    );
    info.on("data", onData);
    info.on("end", onEnd);
    options.signal.addEventListener("abort", onAbort, { once: true });
    exited.then((exit) => {
      const how = exit.error ? exit.error.message : exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      finish(() => reject(startFailed(`bwrap exited while setting up the sandbox (${how})`, options.logPath, { exitCode: exit.code })));
    });
  });
}
