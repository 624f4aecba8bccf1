// A run survives `kill -9` of the control plane: the agent keeps working in its sandbox
// (its output journaled there), the restarted control plane re-attaches and stores the rest,
// and a client that re-attaches with Last-Event-ID gets every event once: sequence numbers
// 1…n with no gap and no repeat, across the kill.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { AGENTS_DIR } from "../helpers/agents.ts";
import { startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { adminToken, spawnServe } from "../helpers/process.ts";
import { runEvents } from "../helpers/runs.ts";
import { deleteAndWait, runningSandbox } from "../helpers/sandboxes.ts";
import { api } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

test("kill -9 of the control plane mid-run loses no event and repeats none", async () => {
  const stub = await startAnthropicAgentStub();
  cleanup.push(() => stub.close());
  const dataDir = mkdtempSync(join(tmpdir(), "outpost-run-kill-"));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { OUTPOST_ANTHROPIC_UPSTREAM: stub.url, OUTPOST_AGENTS_DIR: AGENTS_DIR };

  const first = await spawnServe(dataDir, env);
  cleanup.push(() => first.child.kill("SIGKILL"));
  let server = { url: first.url, token: adminToken(dataDir) };
  await api(server, "POST", "/api/v1/projects", { body: { name: "kill", egress: { level: "none" } } });
  await api(server, "POST", "/api/v1/projects/kill/secrets", { body: { name: "ANTHROPIC_API_KEY", value: "sk-ant-api03-kill", kind: "credential" } });
  const box = await runningSandbox(server, "kill");

  // The agent's tool waits for a file, so the control plane can die while it works.
  stub.queue(
    {
      blocks: [
        { text: "Waiting for the go file." },
        { tool: "Bash", input: { command: "while [ ! -e /workspace/go ]; do sleep 0.1; done; echo resumed", description: "wait" } },
      ],
    },
    { blocks: [{ text: "After the restart." }] },
  );
  const conversation = (await api(server, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "claude-code" } })).body;
  const { run } = (await api(server, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "wait for go" } })).body;
  const seen = await collectSse(`${server.url}/api/v1/runs/${run.id}/events`, {
    token: server.token,
    until: (events) => events.some((e) => e.event === "tool_call"),
  });

  first.child.kill("SIGKILL");
  await first.exited;
  // The agent goes on without a control plane: its tool finishes, its output is journaled.
  writeFileSync(join(dataDir, "sandboxes", box.id, "workspace", "go"), "");

  const second = await spawnServe(dataDir, env);
  cleanup.push(async () => {
    await deleteAndWait(server, box.id).catch(() => {});
    second.child.kill("SIGTERM");
    await second.exited;
  });
  server = { url: second.url, token: adminToken(dataDir) };
  const rest = await runEvents(server, run.id, { "last-event-id": seen.at(-1)!.id! });
  const all = [...seen, ...rest];
  assert.equal(all.at(-1)!.data.status, "succeeded", JSON.stringify(all.map((e) => [e.id, e.event, e.data.status ?? ""])));
  assert.deepEqual(
    all.map((e) => Number(e.id)),
    all.map((_, i) => i + 1),
    "every event once, in order",
  );
  const result = all.find((e) => e.event === "tool_result")!;
  assert.equal(result.data.output, "resumed");
  assert.equal(all.filter((e) => e.event === "message").at(-1)!.data.text, "After the restart.");

  // A reader starting afresh sees the same history.
  const replay = await runEvents(server, run.id);
  assert.deepEqual(
    replay.map((e) => [e.id, e.event]),
    all.map((e) => [e.id, e.event]),
  );
});
