// Sandbox helpers for API-level tests: create and wait for a phase (polling the resource
// until the condition holds, bounded), run commands, and find a sandbox's host processes.
import { readdirSync, readFileSync } from "node:fs";
import { api } from "./server.ts";

type Server = { url: string; token: string };

export async function waitForPhase(s: Server, id: string, phases: string[], timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await api(s, "GET", `/api/v1/sandboxes/${id}`)).body;
    if (phases.includes(last.phase)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sandbox ${id} did not reach ${phases.join("|")} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export async function runningSandbox(s: Server, project: string, timeoutMs = 60_000): Promise<any> {
  const created = await api(s, "POST", `/api/v1/projects/${project}/sandboxes`);
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const ready = await waitForPhase(s, created.body.id, ["running", "failed"], timeoutMs);
  if (ready.phase !== "running") throw new Error(`sandbox failed: ${JSON.stringify(ready.error)}`);
  return ready;
}

export async function exec(s: Server, sandbox: string, command: string | string[], extra: Record<string, unknown> = {}): Promise<any> {
  const res = await api(s, "POST", `/api/v1/sandboxes/${sandbox}/exec`, { body: { command, ...extra } });
  if (res.status !== 200) throw new Error(`exec failed (${res.status}): ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Host pids still alive whose real uid is `uid` (a sandbox's host uid when the control plane
 *  is root). Zombies are skipped: they hold no resources and wait only for their parent (in
 *  a container often a pid 1 that never reaps) to collect their exit status. */
export function hostPidsOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      const zombie = /^State:\s+Z/m.test(status);
      if (Number(real) === uid && !zombie) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

export async function deleteAndWait(s: Server, id: string): Promise<void> {
  const res = await api(s, "DELETE", `/api/v1/sandboxes/${id}`);
  if (res.status === 404) return;
  await waitForPhase(s, id, ["deleted"]);
}

/** Deletes every live sandbox of the server and waits until each is gone (sandboxes outlive
 *  the control plane: a test must not leave one behind, whatever failed before). */
export async function deleteEverySandbox(s: Server): Promise<void> {
  const listed = await api(s, "GET", "/api/v1/sandboxes?limit=500");
  const ids = ((listed.body?.items ?? []) as { id: string }[]).map((sandbox) => sandbox.id);
  await Promise.all(ids.map((id) => deleteAndWait(s, id)));
}
