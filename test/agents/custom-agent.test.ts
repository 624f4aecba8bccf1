// The `custom` agent: any command answers each message, one `message` event per stdout
// line. Also the runs that end before the control plane has even handed them their prompt
// (a command that exits at once): they are still followed to their end.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runEvents } from "../helpers/runs.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

describe("the custom agent", () => {
  let s: TestServer;
  let box: any;
  const say = async (command: string, text: string) => {
    const cnv = (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom", command } })).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${cnv.id}/messages`, { body: { text } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    return runEvents(s, sent.body.run.id);
  };

  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "custom" } });
    box = await runningSandbox(s, "custom");
  });
  after(async () => s?.close());

  test("the prompt arrives on stdin and in OUTPOST_PROMPT; each output line is a message", async () => {
    const events = await say('read line; echo "stdin: $line"; echo "env: $OUTPOST_PROMPT"', "hello there");
    assert.deepEqual(
      events.filter((e) => e.event === "message").map((e) => e.data.text),
      ["stdin: hello there", "env: hello there"],
    );
    assert.equal(events.at(-1)!.data.status, "succeeded");
  });

  test("a project secret an agent prints is stored and streamed as [secret:NAME]", async () => {
    const set = await api(s, "POST", "/api/v1/projects/custom/secrets", { body: { name: "DEPLOY_TOKEN", value: "tok-5f2a9c1e-secret-value", kind: "secret" } });
    assert.equal(set.status, 200);
    const events = await say('echo "token is $DEPLOY_TOKEN"; echo "$DEPLOY_TOKEN" >&2; exit 1', "leak it");
    assert.equal(events.find((e) => e.event === "message")!.data.text, "token is [secret:DEPLOY_TOKEN]");
    assert.ok(!JSON.stringify(events).includes("tok-5f2a9c1e-secret-value"), "not in any event, the failure's reason included");
  });

  test("a command that exits at once is followed to its end", async () => {
    for (let i = 0; i < 5; i++) {
      const events = await say("echo quick", "go");
      assert.equal(events.at(-1)!.data.status, "succeeded");
      assert.equal(events.find((e) => e.event === "message")!.data.text, "quick");
    }
  });

  test("a command that fails ends the run failed with its exit code", async () => {
    const events = await say("echo partial; exit 3", "go");
    assert.equal(events.at(-1)!.data.status, "failed");
    assert.match(events.at(-1)!.data.reason, /exited with code 3/);
  });

  test("cancel of an agent without an interrupt: its whole process tree ends by signals", async () => {
    const cnv = (
      await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom", command: "echo started; sleep 600 & sleep 601; wait" } })
    ).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${cnv.id}/messages`, { body: { text: "go" } });
    const started = await collectSse(`${s.url}/api/v1/runs/${sent.body.run.id}/events`, {
      token: s.token,
      until: (events) => events.some((e) => e.event === "message"),
    });
    assert.equal(started.find((e) => e.event === "message")!.data.text, "started");
    assert.equal((await api(s, "POST", `/api/v1/runs/${sent.body.run.id}/cancel`)).status, 202);
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "cancelled");
    assert.equal((await exec(s, box.id, "pgrep -f 'sleep 60[01]' || true")).stdout, "", "no process of the run is left");
  });

  test("a run past its time limit is stopped and ends failed, saying why", async () => {
    await api(s, "PATCH", "/api/v1/projects/custom", { body: { agent: { limits: { maxDurationSec: 10 } } } });
    try {
      const events = await say("sleep 600", "go");
      assert.equal(events.at(-1)!.data.status, "failed");
      assert.match(events.at(-1)!.data.reason, /ran longer than its limit of 10 s/);
    } finally {
      await api(s, "PATCH", "/api/v1/projects/custom", { body: { agent: { limits: { maxDurationSec: 3600 } } } });
    }
  });

  test("approve mode refuses an agent that cannot ask before it runs a tool", async () => {
    await api(s, "PATCH", "/api/v1/projects/custom", { body: { agent: { permissionMode: "approve" } } });
    try {
      const cnv = (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom", command: "echo hi" } })).body;
      const sent = await api(s, "POST", `/api/v1/conversations/${cnv.id}/messages`, { body: { text: "go" } });
      assert.equal(sent.status, 422);
      assert.equal(sent.body.error.code, "AGENT_CANNOT_ASK");
      assert.match(sent.body.error.hint, /--permission-mode bypass/);
      assert.equal((await api(s, "GET", `/api/v1/conversations/${cnv.id}`)).body.runs.length, 0, "no run was made");
    } finally {
      await api(s, "PATCH", "/api/v1/projects/custom", { body: { agent: { permissionMode: "bypass" } } });
    }
  });

  test("the custom agent needs a command, and only it takes one", async () => {
    const none = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom" } });
    assert.equal(none.status, 422);
    assert.equal(none.body.error.code, "AGENT_NOT_SUPPORTED");
    const extra = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "claude-code", command: "ls" } });
    assert.equal(extra.status, 422);
  });
});
