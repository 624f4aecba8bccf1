// Environments in tests: where a finished Debian root is kept between runs (debootstrap takes
// about a minute; CI keeps one at this fixed path, a fresh machine makes it on first use),
// and helpers to wait for a build.
import { api } from "./server.ts";

/** OUTPOST_DEBIAN_ROOT_CACHE for test servers (.ci/run keeps it between runs). */
export const DEBIAN_ROOT_CACHE = process.env.OUTPOST_TEST_DEBIAN_ROOT_CACHE ?? "/var/cache/outpost-ci/debian-roots";

type Server = { url: string; token: string };

/** The sandbox's stage of that name. */
export async function stageOf(s: Server, sandboxId: string, name: string): Promise<{ name: string; state: string; message?: string } | undefined> {
  const sandbox = (await api(s, "GET", `/api/v1/sandboxes/${sandboxId}`)).body;
  return (sandbox.stages as { name: string; state: string; message?: string }[]).find((stage) => stage.name === name);
}

/** Polls the environment's latest build until it has ended; bounded. */
export async function finishedBuild(s: Server, environment: string, timeoutMs = 300_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await api(s, "GET", `/api/v1/environments/${environment}/builds/latest`)).body;
    if (last?.state === "ready" || last?.state === "failed") return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the build of ${environment} did not end within ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

/** Restarts the sandbox and waits until it is running again, started after the request
 *  (its `ready` stage is newer): the phase alone still says running before the stop begins. */
export async function restartAndWait(s: Server, sandboxId: string, timeoutMs = 600_000): Promise<any> {
  const since = new Date().toISOString();
  const asked = await api(s, "POST", `/api/v1/sandboxes/${sandboxId}/restart`);
  if (asked.status !== 202) throw new Error(`restart refused: ${JSON.stringify(asked.body)}`);
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await api(s, "GET", `/api/v1/sandboxes/${sandboxId}`)).body;
    const ready = (last.stages as { name: string; endedAt?: string }[]).find((stage) => stage.name === "ready");
    if (last.phase === "failed") return last;
    if (last.phase === "running" && ready?.endedAt && ready.endedAt > since) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sandbox ${sandboxId} did not run again within ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}
