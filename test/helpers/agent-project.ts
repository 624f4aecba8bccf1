// The setting of an agent's end-to-end test: a server whose model gateway goes to a
// stand-in provider, a project (no egress but the gateway) holding the model key as a
// credential, and its running sandbox. Agent CLIs come from the shared test folder.
import assert from "node:assert/strict";
import type { Settings } from "../../src/config/settings.ts";
import { AGENTS_DIR } from "./agents.ts";
import { runningSandbox } from "./sandboxes.ts";
import { api, startTestServer, type TestServer } from "./server.ts";

export async function agentProject(options: {
  name: string;
  /** The gateway's upstream, e.g. { anthropicUpstream: stub.url }. */
  settings: Partial<Settings>;
  credential: { name: string; value: string };
  /** More fields of the project, e.g. instructions. */
  project?: Record<string, unknown>;
}): Promise<{ s: TestServer; box: any }> {
  const s = await startTestServer("embedded", { ...options.settings, agentsDir: AGENTS_DIR });
  const created = await api(s, "POST", "/api/v1/projects", { body: { name: options.name, egress: { level: "none" }, ...options.project } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const set = await api(s, "POST", `/api/v1/projects/${options.name}/secrets`, { body: { ...options.credential, kind: "credential" } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  return { s, box: await runningSandbox(s, options.name) };
}
