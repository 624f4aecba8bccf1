// A GitRunner over a sandbox's supervisor link: git runs through exec (argv, never a
// shell), files move through the files API. Output is bounded: a hostile sandbox cannot
// make the control plane hold more than maxOutputBytes of one command's answer.
import { OutpostError } from "../../domain/errors.ts";
import type { SupervisorClient } from "../../supervisor/client.ts";
import { DEFAULT_GIT_TIMEOUT_MS, DEFAULT_MAX_GIT_OUTPUT, type GitOutput, type GitRunner, type GitRunOptions, runnerOf, StderrTail } from "./git-runner.ts";

/** `cwd`: where commands run unless they say otherwise (a conversation's worktree; default /workspace). */
export function sandboxGitRunner(client: SupervisorClient, baseEnv: Record<string, string>, cwd = "/workspace"): GitRunner {
  const run = async (command: string[], options: GitRunOptions = {}): Promise<GitOutput> => {
    const max = options.maxOutputBytes ?? DEFAULT_MAX_GIT_OUTPUT;
    const events = await client.execFrames(
      {
        command,
        cwd: options.cwd ?? cwd,
        env: { ...baseEnv, ...options.env },
        timeoutMs: options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS,
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      },
      { signal: options.signal },
    );
    const stdout: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const stderr = new StderrTail();
    for await (const event of events) {
      if (event.type === "stdout") {
        if (options.truncateAt !== undefined && size + event.data.length > options.truncateAt) {
          // Read on to the exit, keeping nothing more: the command's status still counts.
          if (!truncated) stdout.push(event.data.subarray(0, Math.max(0, options.truncateAt - size)));
          truncated = true;
          size = options.truncateAt;
          continue;
        }
        size += event.data.length;
        if (size > max) throw new OutpostError("GIT_OUTPUT_TOO_LARGE", `git's answer is larger than ${max} bytes.`);
        stdout.push(event.data);
      } else if (event.type === "stderr") {
        stderr.push(event.data);
        options.onStderr?.(event.data);
      } else if (event.type === "exit") {
        return { code: event.exitCode, stdout: Buffer.concat(stdout), stderr: stderr.toString(), timedOut: event.timedOut, truncated };
      }
    }
    throw new OutpostError("SUPERVISOR_BAD_RESPONSE", "The sandbox's answer to a git command ended without an exit.");
  };
  return runnerOf(run, {
    async readFile(path, signal) {
      return (await client.readFile(path, { signal })).body;
    },
    async writeFile(path, body, signal) {
      await client.writeFile(path, body, { parents: true, overwrite: true, signal });
    },
  });
}
