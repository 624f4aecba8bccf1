// The end of a bench that ran sandboxes through a control plane it started: what is still
// live is deleted through the API, the control plane is stopped with SIGTERM (it must go
// gracefully), and any process a sandbox left behind is counted, then killed.

import { deleteDeleted, describe, type Tracker } from "../sandboxes/tracker.ts";
import type { OutpostApi } from "./api.ts";
import { type ControlPlane, stopGracefully } from "./outpost.ts";
import { killSandboxes, leftoverPids } from "./sandbox-processes.ts";

export interface RunEnding {
  graceful: boolean;
  leftovers: number;
  failures: string[];
}

export async function finishRun(api: OutpostApi, run: Tracker, plane: ControlPlane, results: RunEnding, cleanupDone: () => void): Promise<void> {
  if (run.live().length) {
    await Promise.all(run.live().map((id) => deleteDeleted(api, run, id))).catch((error) => results.failures.push(`final delete: ${describe(error)}`));
  }
  await stopGracefully(plane).then(
    () => {
      results.graceful = true;
    },
    (error) => results.failures.push(`graceful stop: ${describe(error)}`),
  );
  results.leftovers = leftoverPids(run.created).length;
  cleanupDone();
  await killSandboxes(run.created);
  api.close();
}
