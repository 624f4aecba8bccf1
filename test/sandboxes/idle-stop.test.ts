// Idle stop and wake with the real bubblewrap driver: a sandbox nobody uses for its project's
// idleTimeoutSeconds is stopped (files kept) and says why; the next exec wakes it and runs as
// if it had never stopped; what is in use (a running exec, an attached terminal, an agent run)
// is not stopped, a terminal nobody is attached to does not count, timeout 0 never stops, and
// a sandbox a user stopped is not woken by requests.
//
// No assertion is about time. "Not stopped" is shown against a witness: a sandbox of the same
// timeout whose last use came after the busy ones began; once the witness was stopped for
// idleness, one more whole look of the reaper (awaited) would have stopped the busy ones too
// had they counted as idle.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readSse } from "../../src/cli/client.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { openTerminal } from "../helpers/terminal-socket.ts";

describe("idle stop and wake", () => {
  let s: TestServer;
  const get = async (id: string) => (await api(s, "GET", `/api/v1/sandboxes/${id}`)).body;
  const events = async (project: string, sandboxId: string) => {
    const res = await api(s, "GET", `/api/v1/events?follow=false&project=${project}`);
    return [...String(res.body).matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]!)).filter((e) => e.data.sandboxId === sandboxId);
  };
  /** Waits until the sandbox has been stopped for idleness. */
  const idleStopped = async (id: string) => {
    const stopped = await waitForPhase(s, id, ["stopped"]);
    assert.equal(stopped.stoppedReason, "idle", JSON.stringify(stopped));
    return stopped;
  };
  /** One whole look of the reaper that began after this call. */
  const look = () => s.server.sandboxes.idle.reaper.pass();

  before(async () => {
    s = await startTestServer("embedded", { idleCheckMs: 200 });
    for (const [name, idleTimeoutSeconds] of [
      ["idle", 1],
      ["busy", 2],
      ["never", 0],
      ["agent", 2],
    ] as const) {
      const created = await api(s, "POST", "/api/v1/projects", { body: { name, idleTimeoutSeconds } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.idleTimeoutSeconds, idleTimeoutSeconds);
    }
  });
  after(async () => s?.close());

  test("a project's idleTimeoutSeconds defaults to 1800, is bounded, and PATCH changes it", async () => {
    const fresh = await api(s, "POST", "/api/v1/projects", { body: { name: "defaults" } });
    assert.equal(fresh.body.idleTimeoutSeconds, 1800);
    for (const bad of [-1, 604_801, 1.5, "60"]) {
      const res = await api(s, "PATCH", "/api/v1/projects/defaults", { body: { idleTimeoutSeconds: bad } });
      assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
    }
    const patched = await api(s, "PATCH", "/api/v1/projects/defaults", { body: { idleTimeoutSeconds: 0 } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.idleTimeoutSeconds, 0);
    assert.equal((await api(s, "GET", "/api/v1/projects/defaults")).body.idleTimeoutSeconds, 0);
  });

  test("an idle sandbox is stopped with its files; an exec wakes it and succeeds", async () => {
    const box = await runningSandbox(s, "idle");
    assert.equal(box.stoppedReason, null);
    assert.equal(box.waking, false);
    await exec(s, box.id, "echo kept > /workspace/note.txt");
    const stopped = await idleStopped(box.id);
    assert.equal(stopped.desired, "stopped");
    // Its last use was written down (what a restarted control plane goes by).
    const { rows } = await s.server.pool.query("select last_active_at from sandboxes where id = $1", [box.id]);
    assert.ok(rows[0].last_active_at instanceof Date, "last_active_at is recorded");
    const stop = (await events("idle", box.id)).find((e) => e.type === "sandbox.idle_stopped");
    assert.ok(stop, "the stop is recorded as an idle stop");
    assert.equal(stop.data.timeoutSeconds, 1);

    const wakes = async () => (await events("idle", box.id)).filter((e) => e.type === "sandbox.waking").length;
    const before = await wakes();
    const read = await exec(s, box.id, "cat /workspace/note.txt");
    assert.equal(read.stdout, "kept\n");
    assert.equal((await wakes()) - before, 1, "the exec woke it");
  });

  test("requests that arrive together share one wake", async () => {
    const box = await runningSandbox(s, "idle");
    await idleStopped(box.id);
    const before = (await events("idle", box.id)).filter((e) => e.type === "sandbox.waking").length;
    const results = await Promise.all([1, 2, 3].map((n) => exec(s, box.id, `echo ${n}`)));
    assert.deepEqual(
      results.map((r) => r.stdout),
      ["1\n", "2\n", "3\n"],
    );
    const after = (await events("idle", box.id)).filter((e) => e.type === "sandbox.waking").length;
    assert.equal(after - before, 1, "one wake for the three requests");
  });

  test("a sandbox a user stopped is not woken by an exec", async () => {
    const box = await runningSandbox(s, "idle");
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/stop`)).status, 202);
    const stopped = await waitForPhase(s, box.id, ["stopped"]);
    assert.equal(stopped.stoppedReason, "user");
    const refused = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "true" } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "SANDBOX_WRONG_PHASE");
    assert.match(refused.body.error.message, /is stopped, not running/);
    const still = await get(box.id);
    assert.equal(still.desired, "stopped");
    assert.equal(still.waking, false);
    assert.ok(!(await events("idle", box.id)).some((e) => e.type === "sandbox.waking"));
  });

  test("a running exec and an attached terminal keep a sandbox up; a detached terminal and timeout 0 do not stop it", async () => {
    const [running, attached, witness, never] = await Promise.all([
      runningSandbox(s, "busy"),
      runningSandbox(s, "busy"),
      runningSandbox(s, "busy"),
      runningSandbox(s, "never"),
    ]);
    // A command that runs until the test ends it.
    const ended = new AbortController();
    const response = await fetch(`${s.url}/api/v1/sandboxes/${running.id}/exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ command: "sleep 600" }),
      signal: ended.signal,
    });
    assert.equal(response.status, 200);
    const stream = readSse(response.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    assert.equal((await stream.next()).value?.event, "started");
    const terminal = await openTerminal(s, attached.id, "new");
    // The witness's last use: a terminal opened over HTTP, which nobody attaches to.
    const detached = await api(s, "POST", `/api/v1/sandboxes/${witness.id}/terminals`, { body: { cols: 80, rows: 24 } });
    assert.equal(detached.status, 201, JSON.stringify(detached.body));

    await idleStopped(witness.id);
    await look();
    for (const box of [running, attached, never]) {
      const now = await get(box.id);
      assert.equal(now.phase, "running", `${box.name}: ${JSON.stringify(now)}`);
      assert.equal(now.desired, "running", box.name);
    }

    // Once the command ends and the terminal detaches, both are idle like any other.
    ended.abort();
    await stream.return?.(undefined).catch(() => {});
    await terminal.close();
    await idleStopped(running.id);
    await idleStopped(attached.id);
    assert.equal((await get(never.id)).phase, "running");
  });

  test("an agent run keeps its sandbox up until it ends; a new message wakes a stopped one", async () => {
    const [busy, witness] = await Promise.all([runningSandbox(s, "agent"), runningSandbox(s, "agent")]);
    // An agent that thinks for a long time and prints nothing.
    const conversation = (await api(s, "POST", `/api/v1/sandboxes/${busy.id}/conversations`, { body: { agent: "custom", command: "sleep 600" } })).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "think" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await exec(s, witness.id, "true");
    await idleStopped(witness.id);
    await look();
    assert.equal((await get(busy.id)).phase, "running");

    assert.equal((await api(s, "POST", `/api/v1/runs/${sent.body.run.id}/cancel`)).status, 202);
    await runEvents(s, sent.body.run.id);
    await idleStopped(busy.id);

    const quick = (await api(s, "POST", `/api/v1/sandboxes/${busy.id}/conversations`, { body: { agent: "custom", command: "echo awake" } })).body;
    const again = await api(s, "POST", `/api/v1/conversations/${quick.id}/messages`, { body: { text: "wake up" } });
    const run = await runEvents(s, again.body.run.id);
    assert.equal(run.at(-1)!.data.status, "succeeded", JSON.stringify(run.at(-1)));
    assert.equal(run.find((e) => e.event === "message")?.data.text, "awake");
  });
});
