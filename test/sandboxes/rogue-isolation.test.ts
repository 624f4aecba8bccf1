// A rogue supervisor holds sandbox A's link. It is A's to lose: sandbox B (another project)
// works as before through the API, and nothing of B (its requests, its project's env)
// ever reaches A's rogue, which records every request it gets. A's own requests reach it,
// A's env with them (by design: the supervisor is inside A's trust boundary), which shows
// the recording works.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { processState, type Rogue, supervisorHostPid, takeOver } from "./rogue.ts";

describe("a rogue supervisor in one sandbox against another sandbox", () => {
  const secretA = `a-${randomBytes(12).toString("hex")}`;
  const secretB = `b-${randomBytes(12).toString("hex")}`;
  let s: TestServer;
  let a: any;
  let b: any;
  let rogue: Rogue;
  before(async () => {
    s = await startTestServer("embedded");
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "alpha", env: { SECRET_A: secretA } } })).status, 201);
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "beta", env: { SECRET_B: secretB } } })).status, 201);
    a = await runningSandbox(s, "alpha");
    b = await runningSandbox(s, "beta");
    rogue = await takeOver(s, a.id, "record");
  });
  after(async () => {
    await rogue?.restore();
    await s?.close();
  });

  test("sandbox B still runs commands, with its own env, through its own supervisor", async () => {
    const res = await exec(s, b.id, ["sh", "-c", "echo $SECRET_B"]);
    assert.equal(res.stdout, `${secretB}\n`);
    assert.equal(processState(supervisorHostPid(b.id)) === "T", false, "B's supervisor was not stopped");
    const started = await api(s, "POST", `/api/v1/sandboxes/${b.id}/processes`, { body: { command: ["sleep", "60"], name: "b-worker" } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const listed = await api(s, "GET", `/api/v1/sandboxes/${b.id}/processes`);
    assert.ok(
      listed.body.items.some((item: { id: string }) => item.id === started.body.id),
      "B's process list is B's",
    );
  });

  test("A's rogue gets A's requests, with A's env", async () => {
    const res = await exec(s, a.id, ["echo", "for-the-rogue"]);
    assert.equal(res.stdout, "rogue\n", "the rogue, not A's real supervisor, answered");
    const seen = JSON.stringify(rogue.requests());
    assert.ok(seen.includes("for-the-rogue"), "the rogue recorded A's command");
    assert.ok(seen.includes(secretA), "A's env crossed A's link (the supervisor is inside A's trust boundary)");
  });

  test("A's rogue never receives B's requests or B's project env", async () => {
    // Whatever B does, with A's link in the rogue's hands.
    await exec(s, b.id, ["sh", "-c", "echo $SECRET_B > /workspace/b.txt"]);
    await api(s, "POST", `/api/v1/sandboxes/${b.id}/processes`, { body: { command: ["sh", "-c", "echo $SECRET_B; sleep 60"], name: "b-env" } });
    await api(s, "GET", `/api/v1/sandboxes/${b.id}/processes`);
    // And A's rogue is asked something after, so B's calls would be in its log by now.
    await exec(s, a.id, ["echo", "last"]);
    const requests = rogue.requests();
    assert.ok(
      requests.some((request) => request.body.includes('"last"')),
      "the rogue's log is up to date",
    );
    const seen = JSON.stringify(requests);
    assert.ok(!seen.includes(secretB), "B's env never reached A's rogue");
    assert.ok(!seen.includes(b.id), "no request of B's reached A's rogue");
    assert.ok(!seen.includes("b-env") && !seen.includes("b.txt"), "none of B's commands reached A's rogue");
  });
});
