// The seam through which the control plane runs git in a sandbox. Everything git does to a
// workspace happens inside the sandbox, as the sandbox user, through the egress proxy:
// never as the host's git (a repository's config, hooks and filters are the agent's to
// write, and host git would run them). The interface is small so the same use cases run
// against a plain folder in tests (test/helpers/host-git.ts).

import { OutpostError } from "../../domain/errors.ts";

export interface GitOutput {
  /** Null when a signal (or the timeout) ended git. */
  code: number | null;
  stdout: Buffer;
  /** Decoded, and cut to its last 64 KiB. */
  stderr: string;
  timedOut: boolean;
  /** stdout was cut at `truncateAt`. */
  truncated?: boolean;
}

export interface GitRunOptions {
  /** Inside the sandbox; relative paths are under /workspace (the default). */
  cwd?: string;
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (at most 1 MiB). */
  stdin?: string;
  /** Default 5 minutes; on expiry the whole process group is killed. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** stdout beyond this fails the call (default 16 MiB): a sandbox cannot flood the control plane. */
  maxOutputBytes?: number;
  /** Instead of failing past this many stdout bytes, keep them and mark the output truncated. */
  truncateAt?: number;
  /** stderr as it arrives (clone progress). */
  onStderr?: (chunk: Buffer) => void;
}

export interface GitRunner {
  /** `git <args>` in the sandbox. */
  git(args: string[], options?: GitRunOptions): Promise<GitOutput>;
  /** Like git(), but a non-zero exit throws GIT_FAILED with git's own last words. */
  gitOk(args: string[], options?: GitRunOptions): Promise<Buffer>;
  /** Any argv, no shell. */
  run(command: string[], options?: GitRunOptions): Promise<GitOutput>;
  /** A file of the sandbox, streamed out (absolute path inside the sandbox). */
  readFile(path: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>>;
  /** Writes a file in the sandbox (parents made), atomically. */
  writeFile(path: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void>;
}

export const DEFAULT_GIT_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_MAX_GIT_OUTPUT = 16 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/** Keeps the last `MAX_STDERR` bytes of what arrives (git's conclusion comes last). */
export class StderrTail {
  #chunks: Buffer[] = [];
  #size = 0;
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > MAX_STDERR && this.#chunks.length > 1) this.#size -= (this.#chunks.shift() as Buffer).length;
  }
  toString(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - MAX_STDERR)).toString("utf8");
  }
}

/** A GitRunner from a way to run commands and to move files: git() and gitOk() on top. */
export function runnerOf(run: GitRunner["run"], files: Pick<GitRunner, "readFile" | "writeFile">): GitRunner {
  const git = (args: string[], options?: GitRunOptions) => run(["git", ...args], options);
  return {
    run,
    git,
    async gitOk(args, options) {
      const out = await git(args, options);
      if (out.code !== 0) throw gitFailed(args, out);
      return out.stdout;
    },
    ...files,
  };
}

/** A non-zero exit as an error people read: which git command, and git's own last words. */
export function gitFailed(args: string[], out: GitOutput): OutpostError {
  const what = `git ${args.find((a) => !a.startsWith("-") && !a.includes("=")) ?? args[0] ?? ""}`;
  const why = out.timedOut ? "timed out" : lastWords(out.stderr) || `exited with ${out.code}`;
  return new OutpostError("GIT_FAILED", `${what} failed: ${why}`);
}

/** The last few lines of git's stderr, for an error a person reads. */
export function lastWords(stderr: string, lines = 6): string {
  return stderr.trim().split("\n").slice(-lines).join("\n").slice(0, 1500);
}
