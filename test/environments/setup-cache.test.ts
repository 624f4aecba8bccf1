// An environment's setup script runs once, as root inside a build sandbox, and its result is
// cached (issue 20): the second sandbox of the environment starts from the cached layer
// (its marker file is there, its stage and the build log say "cached"); a changed script
// builds again; a failing script fails the build with its log, and a sandbox then starts
// from the last build that worked; a maintenance script runs at every start.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEBIAN_ROOT_CACHE, finishedBuild, restartAndWait, stageOf } from "../helpers/environments.ts";
import { deleteEverySandbox, exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

// The setup reaches the Debian mirror through the setup phase's egress (its own policy: the
// build sandbox belongs to no project).
const SETUP =
  'echo "setup ran for $GREETING"; echo "$GREETING" > /etc/setup-marker; date +%s%N > /etc/setup-stamp; id -u > /etc/setup-uid; apt-get update -qq && echo fetched';

describe("the setup script: run once, cached, rebuilt when changed", () => {
  let s: TestServer;
  let first: any;

  before(async () => {
    s = await startTestServer("embedded", { debianRootCache: DEBIAN_ROOT_CACHE });
    const env = await api(s, "POST", "/api/v1/environments", {
      body: {
        name: "tools",
        image: "debian:bookworm",
        setup: SETUP,
        setupEnv: { GREETING: "hello" },
        // Named exactly: on this kind of machine the mirror resolves to a non-public address.
        setupEgress: { allow: ["deb.debian.org"] },
        maintenance: "date +%s%N >> /workspace/.maintenance-runs",
      },
    });
    assert.equal(env.status, 201, JSON.stringify(env.body));
    assert.equal(env.body.cache, "stale", "nothing is built before it is needed");
    for (const name of ["one", "two"]) assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name, environment: "tools" } })).status, 201);
    first = await runningSandbox(s, "one", 600_000);
  });
  after(async () => {
    if (s) await deleteEverySandbox(s);
    await s?.close();
  });

  test("the first sandbox runs the script as root, with the setup env; the build and its log are kept", async () => {
    const stage = await stageOf(s, first.id, "environment");
    assert.match(stage?.message ?? "", /^tools: built \(setup-/, JSON.stringify(stage));
    const marker = await exec(s, first.id, ["cat", "/etc/setup-marker", "/etc/setup-uid"]);
    assert.equal(marker.stdout, "hello\n0\n");
    const build = await finishedBuild(s, "tools");
    assert.equal(build.state, "ready");
    assert.equal(build.cached, false);
    assert.match(build.log, /setup ran for hello/);
    assert.match(build.log, /^fetched$/m, "the setup's egress let it reach the mirror");
    assert.match(build.log, /running in build sandbox bld_/);
    assert.equal((await api(s, "GET", "/api/v1/environments/tools")).body.cache, "ready");
  });

  test("the second sandbox skips the script: same layer, its stage says cached", async () => {
    const second = await runningSandbox(s, "two", 120_000);
    const stage = await stageOf(s, second.id, "environment");
    assert.match(stage?.message ?? "", /^tools: cached \(setup-/, JSON.stringify(stage));
    const [a, b] = await Promise.all([exec(s, first.id, ["cat", "/etc/setup-stamp"]), exec(s, second.id, ["cat", "/etc/setup-stamp"])]);
    assert.equal(b.stdout, a.stdout, "the script did not run again");
    // An explicit build of an unchanged environment makes nothing and says so.
    const build = await api(s, "POST", "/api/v1/environments/tools/builds");
    assert.equal(build.status, 202, JSON.stringify(build.body));
    const done = await finishedBuild(s, "tools");
    assert.equal(done.id, build.body.id);
    assert.equal(done.cached, true);
    assert.match(done.log, /cached/);
  });

  test("the maintenance script runs at every start, in the workspace", async () => {
    const runs = async () =>
      String((await exec(s, first.id, ["cat", "/workspace/.maintenance-runs"])).stdout)
        .trim()
        .split("\n").length;
    const before = await runs();
    assert.ok(before >= 1);
    await restartAndWait(s, first.id);
    assert.equal(await runs(), before + 1);
    assert.equal((await stageOf(s, first.id, "maintenance"))?.state, "done");
  });

  test("a changed script builds again at the next start", async () => {
    const changed = await api(s, "PATCH", "/api/v1/environments/tools", { body: { setupEnv: { GREETING: "again" } } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.cache, "stale");
    const oldKey = /\((setup-[0-9a-f]+)\)/.exec((await stageOf(s, first.id, "environment"))?.message ?? "")?.[1];
    await restartAndWait(s, first.id);
    const stage = await stageOf(s, first.id, "environment");
    assert.match(stage?.message ?? "", /^tools: built \(setup-/);
    assert.ok(oldKey && !stage?.message?.includes(oldKey), "a new key");
    assert.equal((await exec(s, first.id, ["cat", "/etc/setup-marker"])).stdout, "again\n");
  });

  test("a failing script fails the build with its log; a sandbox starts from the last good build", async () => {
    const broken = await api(s, "PATCH", "/api/v1/environments/tools", { body: { setup: "echo about to fail; exit 3" } });
    assert.equal(broken.status, 200);
    const running = await restartAndWait(s, first.id);
    assert.equal(running.phase, "running", JSON.stringify(running.error));
    const stage = await stageOf(s, first.id, "environment");
    assert.match(stage?.message ?? "", /the build failed .*started from the last good build/);
    const build = await finishedBuild(s, "tools");
    assert.equal(build.state, "failed");
    assert.match(build.log, /about to fail/);
    assert.match(build.error, /exited with 3/);
    assert.equal((await exec(s, first.id, ["cat", "/etc/setup-marker"])).stdout, "again\n");
  });
});
