// The `custom` agent: any command answers each message, one `message` event per stdout
// line. Also the runs that end before the control plane has even handed them their prompt
// (a command that exits at once): they are still followed to their end.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runEvents } from "../helpers/runs.ts";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

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

  test("the custom agent needs a command, and only it takes one", async () => {
    const none = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom" } });
    assert.equal(none.status, 422);
    assert.equal(none.body.error.code, "AGENT_NOT_SUPPORTED");
    const extra = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "claude-code", command: "ls" } });
    assert.equal(extra.status, 422);
  });
});
