// A sandbox's life through the API with the real bubblewrap driver: create with stages,
// stop keeps files, start resumes, restart, delete (with and without keeping the workspace).
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { deleteAndWait, exec, hostPidsOfUid, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("sandbox lifecycle", () => {
  let s: TestServer;
  let sandbox: any;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "life" } });
  });
  after(async () => s?.close());

  test("create answers 201 pending, then reaches running through its stages", async () => {
    const created = await api(s, "POST", "/api/v1/projects/life/sandboxes");
    assert.equal(created.status, 201);
    assert.match(created.body.name, /^life-[a-z0-9]{6}$/);
    assert.equal(created.body.phase, "pending");
    assert.equal(created.body.primary, true);
    sandbox = await waitForPhase(s, created.body.id, ["running", "failed"]);
    assert.equal(sandbox.phase, "running", JSON.stringify(sandbox.error));
    assert.deepEqual(
      sandbox.stages.map((st: any) => [st.name, st.state]),
      [
        ["environment", "done"],
        ["workspace", "done"],
        ["isolation", "done"],
        ["supervisor", "done"],
        ["repository", "done"],
        ["maintenance", "done"],
        ["ready", "done"],
      ],
    );
    // A project without a repository gets an empty one: diffs and checkpoints need it.
    assert.match(sandbox.stages[4].message, /initialized an empty repository on main/);
    assert.equal(sandbox.stages[0].message, "none: the host's /usr", "no environment: the host's /usr");
    for (const st of sandbox.stages) assert.ok(st.startedAt && st.endedAt && st.endedAt >= st.startedAt, st.name);
    const second = await api(s, "POST", "/api/v1/projects/life/sandboxes");
    assert.equal(second.body.primary, false, "only the first sandbox is the primary");
    await deleteAndWait(s, second.body.id);
  });

  test("the stages and phases were announced on the events stream", async () => {
    const res = await api(s, "GET", `/api/v1/events?follow=false&project=life`);
    const events = [...String(res.body).matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]!)).filter((e) => e.data.sandboxId === sandbox.id);
    const stageEvents = events.filter((e) => e.type === "sandbox.stage").map((e) => `${e.data.stage}:${e.data.state}`);
    for (const expected of ["workspace:running", "workspace:done", "isolation:done", "supervisor:done", "ready:done"])
      assert.ok(stageEvents.includes(expected), expected);
    const phases = events.filter((e) => e.type === "sandbox.phase").map((e) => e.data.phase);
    assert.deepEqual(phases.slice(0, 2), ["provisioning", "running"]);
  });

  test("a file written before stop is there after start; processes end on stop", async () => {
    await exec(s, sandbox.id, "echo persisted > /workspace/note.txt && echo home > ~/h.txt");
    const stopped = await api(s, "POST", `/api/v1/sandboxes/${sandbox.id}/stop`);
    assert.equal(stopped.status, 202);
    assert.equal(stopped.body.desired, "stopped");
    await waitForPhase(s, sandbox.id, ["stopped"]);
    const refused = await api(s, "POST", `/api/v1/sandboxes/${sandbox.id}/exec`, { body: { command: "true" } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "SANDBOX_WRONG_PHASE");
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${sandbox.id}/start`)).status, 202);
    await waitForPhase(s, sandbox.id, ["running"]);
    const read = await exec(s, sandbox.id, "cat /workspace/note.txt ~/h.txt");
    assert.equal(read.stdout, "persisted\nhome\n");
  });

  test("restart gives a fresh process tree with the same files", async () => {
    const before = (await exec(s, sandbox.id, "cat /proc/1/stat | cut -d' ' -f22")).stdout;
    await api(s, "POST", `/api/v1/sandboxes/${sandbox.id}/restart`);
    await waitForPhase(s, sandbox.id, ["stopping", "provisioning"], 30_000).catch(() => {});
    await waitForPhase(s, sandbox.id, ["running"]);
    const afterRestart = await exec(s, sandbox.id, "cat /proc/1/stat | cut -d' ' -f22; cat /workspace/note.txt");
    assert.notEqual(afterRestart.stdout.split("\n")[0], before.trim(), "pid 1 started anew");
    assert.match(afterRestart.stdout, /persisted/);
  });

  test("a project with a live sandbox cannot be deleted", async () => {
    const res = await api(s, "DELETE", "/api/v1/projects/life");
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "PROJECT_HAS_SANDBOXES");
  });

  test("delete with keepWorkspace=true keeps the workspace and removes everything else", async () => {
    const folder = join(s.dataDir, "sandboxes", sandbox.id);
    const uid = statSync(join(folder, "workspace")).uid;
    const res = await api(s, "DELETE", `/api/v1/sandboxes/${sandbox.id}?keepWorkspace=true`);
    assert.equal(res.status, 202);
    assert.equal(res.body.desired, "deleted");
    await waitForPhase(s, sandbox.id, ["deleted"]);
    assert.ok(existsSync(join(folder, "workspace", "note.txt")));
    assert.ok(!existsSync(join(folder, "home")));
    if (process.getuid?.() === 0) assert.deepEqual(hostPidsOfUid(uid), [], "no process of the sandbox is left");
    const verbs = await api(s, "POST", `/api/v1/sandboxes/${sandbox.id}/start`);
    assert.equal(verbs.status, 409, "a deleted sandbox cannot start");
  });

  test("the next sandbox of the project takes over the kept workspace, owned by its own uid", async () => {
    const next = await runningSandbox(s, "life");
    assert.equal((await exec(s, next.id, "cat /workspace/note.txt && touch /workspace/note.txt && echo writable")).stdout, "persisted\nwritable\n");
    assert.match(next.stages.find((st: any) => st.name === "workspace").message, new RegExp(`workspace kept from ${sandbox.id}`));
    assert.ok(!existsSync(join(s.dataDir, "sandboxes", sandbox.id)), "the old folder is gone");
    const another = await runningSandbox(s, "life");
    assert.equal((await exec(s, another.id, "ls /workspace")).stdout, "", "a kept workspace is handed out once");
    await deleteAndWait(s, next.id);
    await deleteAndWait(s, another.id);
  });

  test("delete removes the folders and leaves no process on the host", async () => {
    const fresh = await runningSandbox(s, "life");
    await exec(s, fresh.id, ["sh", "-c", "sleep 1000 & sleep 1000 & echo started"]);
    const folder = join(s.dataDir, "sandboxes", fresh.id);
    const uid = statSync(join(folder, "workspace")).uid;
    if (process.getuid?.() === 0) assert.ok(hostPidsOfUid(uid).length >= 2, "the sleeps run under the sandbox's uid");
    await deleteAndWait(s, fresh.id);
    assert.ok(!existsSync(folder));
    if (process.getuid?.() === 0) assert.deepEqual(hostPidsOfUid(uid), []);
    const listed = await api(s, "GET", "/api/v1/sandboxes?project=life");
    assert.deepEqual(listed.body.items, []);
    assert.equal((await api(s, "GET", "/api/v1/sandboxes?project=life&includeDeleted=true")).body.items.length, 5);
    assert.equal((await api(s, "DELETE", "/api/v1/projects/life")).status, 204);
  });
});
