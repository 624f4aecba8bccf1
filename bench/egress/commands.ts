// Running one command to the end and keeping its output, in the two places this bench
// compares: on the host (the baseline, with a clean environment so no proxy variable of the
// host's applies) and inside the sandbox (POST /exec, JSON mode: the time of the API call
// is not part of any figure; the commands time themselves).
import { spawn } from "node:child_process";
import type { OutpostApi } from "../lib/api.ts";

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Sandbox-like: no HTTP_PROXY, NODE_*, or certificate variables of the host. */
const HOST_ENV = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };

const TIMEOUT_MS = 180_000;

export function onHost(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: HOST_ENV, stdio: ["ignore", "pipe", "pipe"], timeout: TIMEOUT_MS });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ exitCode: code, stdout, stderr }));
  });
}

export async function inSandbox(api: OutpostApi, sandboxId: string, argv: readonly string[], stdin?: string): Promise<CommandResult> {
  const body = await api.expect<CommandResult & { timedOut: boolean }>(200, "POST", `/api/v1/sandboxes/${sandboxId}/exec`, {
    command: argv,
    timeoutMs: TIMEOUT_MS,
    ...(stdin === undefined ? {} : { stdin }),
  });
  return { exitCode: body.timedOut ? null : body.exitCode, stdout: body.stdout, stderr: body.stderr };
}

/** Throws with the command's stderr unless it exited 0. */
export function succeeded(what: string, result: CommandResult): CommandResult {
  if (result.exitCode !== 0) throw new Error(`${what} exited ${result.exitCode ?? "(timed out)"}: ${result.stderr.trim().slice(0, 500)}`);
  return result;
}
