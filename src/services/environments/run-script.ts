// Runs a script inside a sandbox through its supervisor (setup and maintenance scripts),
// its output passed on line by line as it comes; resolves with how it ended.
import type { SupervisorClient } from "../../supervisor/client.ts";

export interface ScriptRun {
  script: string;
  env: Record<string, string>;
  user: "root" | "user";
  cwd?: string;
  timeoutMs: number;
  signal: AbortSignal;
  output(text: string): void;
}

export async function runScript(client: SupervisorClient, run: ScriptRun): Promise<{ exitCode: number | null; signal: string | null; timedOut: boolean }> {
  // -e: a failing step fails the script, as in a Dockerfile's RUN or CI's scripts.
  const events = await client.exec(
    { command: ["/bin/sh", "-ec", run.script], env: run.env, user: run.user, timeoutMs: run.timeoutMs, ...(run.cwd ? { cwd: run.cwd } : {}) },
    { signal: run.signal },
  );
  const decoder = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const event of events) {
    if (event.type === "stdout" || event.type === "stderr") run.output(decoder[event.type].decode(Buffer.from(event.data, "base64"), { stream: true }));
    if (event.type === "exit") return { exitCode: event.exitCode, signal: event.signal, timedOut: event.timedOut };
  }
  throw new Error("the script's output ended without its exit");
}
