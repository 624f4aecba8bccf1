// A GitRunner over a plain folder on the host, for testing the git use cases without a
// sandbox: the same interface as services/git/sandbox-git.ts, with the sandbox's paths
// (/workspace, the home folder) mapped into temp folders.
import { spawn } from "node:child_process";
import { createReadStream, mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DEFAULT_MAX_GIT_OUTPUT, type GitOutput, type GitRunner, type GitRunOptions, runnerOf, StderrTail } from "../../src/services/git/git-runner.ts";

export const SANDBOX_WORKSPACE = "/workspace";

export function hostGitRunner(workspace: string, home: string, baseEnv: Record<string, string> = {}): GitRunner & { hostPath(path: string): string } {
  const hostPath = (path: string) => {
    if (path === SANDBOX_WORKSPACE || path.startsWith(`${SANDBOX_WORKSPACE}/`)) return join(workspace, path.slice(SANDBOX_WORKSPACE.length));
    if (path.startsWith("/home/")) return join(home, path.split("/").slice(3).join("/"));
    if (!path.startsWith("/")) return join(workspace, path);
    return path;
  };
  const run = (command: string[], options: GitRunOptions = {}): Promise<GitOutput> =>
    new Promise((resolve, reject) => {
      const [file, ...args] = command as [string, ...string[]];
      const child = spawn(file, args, {
        cwd: hostPath(options.cwd ?? SANDBOX_WORKSPACE),
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1", ...baseEnv, ...options.env },
        stdio: ["pipe", "pipe", "pipe"],
        signal: options.signal,
      });
      const out: Buffer[] = [];
      let size = 0;
      const stderr = new StderrTail();
      child.stdout.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > (options.maxOutputBytes ?? DEFAULT_MAX_GIT_OUTPUT)) child.kill("SIGKILL");
        else out.push(chunk);
      });
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: stderr.toString(), timedOut: false }));
      // A command that never reads stdin may exit before the write: EPIPE is not a failure.
      child.stdin.on("error", () => {});
      child.stdin.end(options.stdin ?? "");
    });
  return {
    hostPath,
    ...runnerOf(run, {
      async readFile(path) {
        return createReadStream(hostPath(path));
      },
      async writeFile(path, body) {
        const target = hostPath(path);
        mkdirSync(dirname(target), { recursive: true });
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(Buffer.from(chunk));
        await writeFile(target, Buffer.concat(chunks));
      },
    }),
  };
}
