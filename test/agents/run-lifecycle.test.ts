// How a run ends when it does not simply finish, with the real Claude Code CLI in a real
// sandbox against the stand-in Messages API: cancel (interrupt, then signals: nothing of
// the agent keeps running), an agent that crashes, an agent that stalls (the watchdog),
// a message sent during a turn (queued, then run), and approval mode (a tool call that
// matches a rule waits for a person, who allows or denies it).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AGENTS_DIR } from "../helpers/agents.ts";
import { type AnthropicAgentStub, gate, startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse, type SseEvent } from "../helpers/sse.ts";

describe("agent runs: cancel, crash, stall, queue, approvals", () => {
  let s: TestServer;
  let stub: AnthropicAgentStub;
  let box: any;

  const conversation = async () => (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "claude-code" } })).body;
  const send = async (cid: string, text: string) => {
    const sent = await api(s, "POST", `/api/v1/conversations/${cid}/messages`, { body: { text } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    return sent.body;
  };
  /** Events of a run until `until` holds. */
  const eventsUntil = (runId: string, until: (events: SseEvent[]) => boolean) => collectSse(`${s.url}/api/v1/runs/${runId}/events`, { token: s.token, until });
  const agentProcesses = async () => (await exec(s, box.id, "pgrep -f 'claude-code-linu[x]' || true")).stdout.trim();

  before(async () => {
    stub = await startAnthropicAgentStub();
    s = await startTestServer("embedded", { anthropicUpstream: stub.url, agentsDir: AGENTS_DIR });
    await api(s, "POST", "/api/v1/projects", { body: { name: "life", egress: { level: "none" } } });
    await api(s, "POST", "/api/v1/projects/life/secrets", { body: { name: "ANTHROPIC_API_KEY", value: "sk-ant-api03-lifecycle", kind: "credential" } });
    box = await runningSandbox(s, "life");
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("cancel interrupts a turn that is waiting on the model; the run ends cancelled and no agent process is left", async () => {
    stub.queue({ hang: true });
    const waiting = stub.requests.length + 1;
    const { run } = await send((await conversation()).id, "think forever");
    await stub.waitForRequest(waiting);
    const cancelled = await api(s, "POST", `/api/v1/runs/${run.id}/cancel`);
    assert.equal(cancelled.status, 202);
    const events = await runEvents(s, run.id);
    assert.equal(events.at(-1)!.data.status, "cancelled");
    assert.match(events.at(-1)!.data.reason, /cancelled by/);
    assert.equal(await agentProcesses(), "", "the agent's process tree is gone");
    const again = await api(s, "POST", `/api/v1/runs/${run.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "RUN_FINISHED");
  });

  test("an agent that crashes mid-turn ends the run failed, saying how", async () => {
    stub.queue({ hang: true });
    const waiting = stub.requests.length + 1;
    const { run } = await send((await conversation()).id, "crash");
    await stub.waitForRequest(waiting);
    await exec(s, box.id, "pkill -KILL -f 'claude-code-linu[x]'");
    const events = await runEvents(s, run.id);
    const end = events.at(-1)!;
    assert.equal(end.data.status, "failed");
    assert.match(end.data.reason, /Claude Code was killed by SIGKILL/);
  });

  test("the watchdog: a run that prints nothing while no tool runs is stalled, and ends failed", async () => {
    const patched = await api(s, "PATCH", "/api/v1/projects/life", { body: { agent: { limits: { stallTimeoutSec: 2 } } } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.agent.limits.stallTimeoutSec, 2);
    try {
      stub.queue({ hang: true });
      const { run } = await send((await conversation()).id, "hang");
      const events = await runEvents(s, run.id);
      const stalled = events.find((e) => e.event === "status" && e.data.status === "stalled");
      assert.ok(stalled, "a stalled status event");
      assert.equal(events.at(-1)!.data.status, "failed");
      assert.match(events.at(-1)!.data.reason, /stalled: the agent printed nothing for 2 s/);
      assert.equal(await agentProcesses(), "");
    } finally {
      await api(s, "PATCH", "/api/v1/projects/life", { body: { agent: { limits: { stallTimeoutSec: 300 } } } });
    }
  });

  test("a message sent during a turn is queued and runs after it, in the same session", async () => {
    const held = gate();
    stub.queue({ gate: held.promise, next: { blocks: [{ text: "first answer" }] } }, { blocks: [{ text: "second answer" }] });
    const cnv = await conversation();
    const first = await send(cnv.id, "first");
    const second = await send(cnv.id, "second");
    assert.equal(second.queued, true);
    assert.equal(second.run.status, "queued");
    held.open();
    const one = await runEvents(s, first.run.id);
    const two = await runEvents(s, second.run.id);
    assert.equal(one.at(-1)!.data.status, "succeeded");
    assert.equal(two.at(-1)!.data.status, "succeeded");
    assert.equal(two.filter((e) => e.event === "message").at(-1)!.data.text, "second answer");
    const started = (events: SseEvent[]) => events.find((e) => e.event === "status" && e.data.status === "running")!.data.at;
    assert.ok(started(two) >= one.at(-1)!.data.at, "the second turn started after the first ended");
  });

  test("approval mode: a matching tool call waits; allowed, it runs", async () => {
    await api(s, "PATCH", "/api/v1/projects/life", {
      body: { agent: { permissionMode: "approve", approvalRules: ["Bash(echo approved*)", "Bash(echo denied*)"] } },
    });
    try {
      stub.queue(
        { blocks: [{ tool: "Bash", input: { command: "echo approved > /workspace/approved.txt", description: "x" } }] },
        { blocks: [{ text: "Ran it." }] },
      );
      const { run } = await send((await conversation()).id, "run it");
      const asked = await eventsUntil(run.id, (events) => events.some((e) => e.event === "approval"));
      const approval = asked.find((e) => e.event === "approval")!.data;
      assert.equal(approval.tool, "Bash");
      assert.equal(approval.decision, "pending");
      assert.equal((await api(s, "GET", `/api/v1/runs/${run.id}`)).body.status, "waiting");
      assert.equal((await exec(s, box.id, "test -e /workspace/approved.txt && echo yes || echo no")).stdout, "no\n", "nothing ran before the answer");
      const decided = await api(s, "POST", `/api/v1/runs/${run.id}/approvals/${approval.approvalId}`, { body: { decision: "allow" } });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      const events = await runEvents(s, run.id);
      assert.equal(events.at(-1)!.data.status, "succeeded");
      assert.deepEqual(
        events.filter((e) => e.event === "approval").map((e) => e.data.decision),
        ["pending", "allow"],
      );
      assert.equal((await exec(s, box.id, "cat /workspace/approved.txt")).stdout, "approved\n");
      const twice = await api(s, "POST", `/api/v1/runs/${run.id}/approvals/${approval.approvalId}`, { body: { decision: "deny" } });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error.code, "APPROVAL_ALREADY_DECIDED");
    } finally {
      await api(s, "PATCH", "/api/v1/projects/life", { body: { agent: { permissionMode: "bypass" } } });
    }
  });

  test("approval mode: denied, the tool does not run and the agent is told", async () => {
    await api(s, "PATCH", "/api/v1/projects/life", { body: { agent: { permissionMode: "approve", approvalRules: ["Bash(echo denied*)"] } } });
    try {
      stub.queue(
        { blocks: [{ tool: "Bash", input: { command: "echo denied > /workspace/denied.txt", description: "x" } }] },
        { blocks: [{ text: "It was denied." }] },
      );
      const { run } = await send((await conversation()).id, "run it");
      const asked = await eventsUntil(run.id, (events) => events.some((e) => e.event === "approval"));
      const approval = asked.find((e) => e.event === "approval")!.data;
      const decided = await api(s, "POST", `/api/v1/runs/${run.id}/approvals/${approval.approvalId}`, { body: { decision: "deny", message: "Not on main." } });
      assert.equal(decided.status, 200);
      const events = await runEvents(s, run.id);
      assert.equal(events.at(-1)!.data.status, "succeeded");
      const result = events.find((e) => e.event === "tool_result")!.data;
      assert.equal(result.isError, true);
      assert.match(result.output, /Not on main\./);
      assert.equal((await exec(s, box.id, "test -e /workspace/denied.txt && echo yes || echo no")).stdout, "no\n");
    } finally {
      await api(s, "PATCH", "/api/v1/projects/life", { body: { agent: { permissionMode: "bypass" } } });
    }
  });

  test("a viewer may read runs but not start, cancel or approve them", async () => {
    const user = await api(s, "POST", "/api/v1/users", { body: { name: "viewer1" } });
    const token = (await api(s, "POST", `/api/v1/users/${user.body.id}/tokens`, { body: { name: "t" } })).body.token;
    await api(s, "POST", "/api/v1/projects/life/members", { body: { userId: user.body.id, role: "viewer" } });
    const cnv = await conversation();
    const list = await api(s, "GET", `/api/v1/sandboxes/${box.id}/conversations`, { token });
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((c: any) => c.id === cnv.id));
    const sent = await api(s, "POST", `/api/v1/conversations/${cnv.id}/messages`, { body: { text: "hi" }, token });
    assert.equal(sent.status, 403);
    assert.match(sent.body.error.message, /you need editor to start agent runs/);
  });
});
