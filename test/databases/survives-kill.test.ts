// Nothing is lost, and nothing is made twice, when the control plane is killed (-9) while a
// sandbox's `database` stage makes the project's database, and is restarted on the same data
// dir (managed provisioner). Killed as the stage starts, as it says it is creating the
// database, and right after the database's row is stored (`database.created`): each time the
// sandbox still reaches `running`, the project has one database row, one database and one
// role on the server, the API says ready, and DATABASE_URL works inside. The managed server
// is started detached, so it outlives the kill: the restart adopts it (same postmaster).
// The control plane runs as a separate process (bin/outpost.js serve) so it can be killed.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import pg from "pg";
import { adminToken, type ServeProcess, spawnServe } from "../helpers/process.ts";
import { deleteAndWait, exec, waitForPhase } from "../helpers/sandboxes.ts";
import { api } from "../helpers/server.ts";
import { collectSse, type SseEvent } from "../helpers/sse.ts";

const START_TIMEOUT_MS = 3 * 60_000;

describe("kill -9 of the control plane in the database stage loses nothing and makes nothing twice", () => {
  let dataDir: string;
  let serve: ServeProcess | undefined;
  let server: { url: string; token: string };
  let postmaster: number;
  const boxes: string[] = [];

  const start = async () => {
    serve = await spawnServe(dataDir, { OUTPOST_DATABASE_PROVISIONER: "managed" });
    server = { url: serve.url, token: adminToken(dataDir) };
  };
  const kill = async () => {
    const current = serve as ServeProcess;
    serve = undefined;
    current.child.kill("SIGKILL");
    await current.exited;
  };

  /** The managed server's postmaster (its pid file's first line), null when none is alive. */
  const managedPostmaster = (): number | null => {
    try {
      const pid = Number(readFileSync(join(dataDir, "projects-postgres", "data", "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  };

  /** A superuser query on one of the two embedded servers (they outlive the kill): for looks only. */
  const superuserQuery = async (server: "postgres" | "projects-postgres", database: string, sql: string, params: unknown[] = []) => {
    const dir = join(dataDir, server);
    const client = new pg.Client({
      host: join(dir, "run"),
      port: 5432,
      user: "postgres",
      password: readFileSync(join(dir, "password"), "utf8").trim(),
      database,
    });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  /** Where the work stood: the project's database rows (control plane) and databases on the managed server. */
  const standing = async (project: string) => ({
    rows: (await superuserQuery("postgres", "outpost", "select status from databases where project_name = $1 order by seq", [project])).map((r) => r.status),
    onServer: (await superuserQuery("projects-postgres", "postgres", "select datname from pg_database where starts_with(datname, $1)", [`p_${project}_`])).map(
      (r) => r.datname,
    ),
  });

  const psql = async (box: string, sql: string) => {
    const out = await exec(server, box, ["sh", "-c", `psql "$DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 -c "${sql}"`]);
    assert.equal(out.exitCode, 0, `${sql}: ${out.stderr}`);
    return String(out.stdout).trim();
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "outpost-db-kill-"));
    await start();
    // Started eagerly at serve's start, detached from the control plane.
    postmaster = managedPostmaster() as number;
    assert.ok(postmaster, "the managed project databases' server runs");
  });
  after(async () => {
    // A test that failed between a kill and its restart still removes its sandboxes.
    if (!serve && dataDir) await start().catch(() => {});
    if (serve) for (const id of boxes) await deleteAndWait(server, id).catch(() => {});
    if (serve) {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * A project (it gets a database) and its sandbox; the control plane is killed as soon as an
   * event `isKillPoint` accepts arrives, then restarted. Resolves with the sandbox and where
   * the work stood at the kill.
   */
  async function killedInStage(project: string, isKillPoint: (e: SseEvent) => boolean) {
    const created = await api(server, "POST", "/api/v1/projects", { body: { name: project } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.database, "postgres", "a new project gets a database where a provisioner runs");

    const watching = collectSse(`${server.url}/api/v1/events?follow=true&project=${project}`, {
      token: server.token,
      until: (events) => events.some(isKillPoint) || events.some((e) => e.event === "sandbox.phase" && e.data.data.phase !== "provisioning"),
    });
    const box = await api(server, "POST", `/api/v1/projects/${project}/sandboxes`);
    assert.equal(box.status, 201, JSON.stringify(box.body));
    const id = box.body.id as string;
    boxes.push(id);
    const events = await watching;
    assert.ok(events.some(isKillPoint), `the stage never reached the kill point: ${JSON.stringify(events.map((e) => [e.event, e.data.data]))}`);
    await kill();

    // The project databases' server outlived the control plane.
    assert.equal(managedPostmaster(), postmaster, "the managed server survives the kill");
    const atKill = await standing(project);
    await start();
    return { id, atKill };
  }

  async function assertOneWorkingDatabase(project: string, id: string): Promise<void> {
    const ready = await waitForPhase(server, id, ["running", "failed"], START_TIMEOUT_MS);
    assert.equal(ready.phase, "running", JSON.stringify({ error: ready.error, stages: ready.stages }));
    const stage = ready.stages.find((st: { name: string }) => st.name === "database");
    assert.equal(stage?.state, "done", JSON.stringify(ready.stages));
    assert.match(stage?.message ?? "", new RegExp(`^ready: p_${project}_[a-z0-9]+ \\(PostgreSQL 15`), JSON.stringify(ready.stages));

    const listed = await api(server, "GET", `/api/v1/sandboxes?project=${project}`);
    assert.deepEqual(
      listed.body.items.map((b: { id: string; phase: string }) => [b.id, b.phase]),
      [[id, "running"]],
      "one sandbox, not stuck",
    );

    // The restart adopted the server the killed control plane had started: no second one.
    assert.equal(managedPostmaster(), postmaster, "the same postmaster serves project databases after the restart");

    const info = await api(server, "GET", `/api/v1/projects/${project}/database`);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body.status, "ready", JSON.stringify(info.body));
    assert.equal(info.body.provisioner, "managed");
    assert.match(info.body.name, new RegExp(`^p_${project}_[a-z0-9]+$`));

    // One row, one database, one role: the one the API shows.
    const now = await standing(project);
    assert.deepEqual(now, { rows: ["ready"], onServer: [info.body.name] });
    const roles = await superuserQuery("projects-postgres", "postgres", "select rolname from pg_roles where starts_with(rolname, $1)", [`p_${project}_`]);
    assert.deepEqual(
      roles.map((r) => r.rolname),
      [info.body.role],
    );
    const told = await collectSse(`${server.url}/api/v1/events?follow=false&project=${project}`, { token: server.token, until: () => false });
    const types = told.map((e) => e.event).filter((type) => type.startsWith("database."));
    assert.deepEqual(types, ["database.created", "database.ready"], "made once, ready once");

    // Inside: DATABASE_URL reaches it (through the restarted control plane's bridge), writable.
    assert.equal(await psql(id, "select current_database()"), info.body.name);
    assert.equal(await psql(id, `select count(*) from pg_database where starts_with(datname, 'p_${project}_')`), "1");
    assert.equal(await psql(id, "create table t (n int); insert into t values (42); select n from t"), "42");
    await deleteAndWait(server, id);
  }

  const stageRunning = (e: SseEvent) => e.event === "sandbox.stage" && e.data.data.stage === "database" && e.data.data.state === "running";

  test("killed as the database stage starts: the restart makes the database, once", async (t: TestContext) => {
    const { id, atKill } = await killedInStage("started", (e) => stageRunning(e) && e.data.data.message === undefined);
    t.diagnostic(`at the kill: ${JSON.stringify(atKill)}`);
    await assertOneWorkingDatabase("started", id);
  });

  test("killed as the stage says it is creating the database: the restart makes it, once", async (t: TestContext) => {
    const { id, atKill } = await killedInStage("creating", (e) => stageRunning(e) && e.data.data.message === "creating the project's database");
    t.diagnostic(`at the kill: ${JSON.stringify(atKill)}`);
    await assertOneWorkingDatabase("creating", id);
  });

  test("killed right after the database's row is stored: the restart finishes that one, no second", async (t: TestContext) => {
    const { id, atKill } = await killedInStage("stored", (e) => e.event === "database.created");
    t.diagnostic(`at the kill: ${JSON.stringify(atKill)}`);
    // The row was stored before the kill (its event came from that transaction).
    assert.equal(atKill.rows.length, 1, JSON.stringify(atKill));
    await assertOneWorkingDatabase("stored", id);
  });

  test("killed while the managed server makes the role and database: the restart finishes them, no second", async (t: TestContext) => {
    const project = "halfmade";
    const created = await api(server, "POST", "/api/v1/projects", { body: { name: project } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Given up on once the stage is over (then the cut below fails: nothing was cut).
    let over = false;
    const watching = collectSse(`${server.url}/api/v1/events?follow=true&project=${project}`, {
      token: server.token,
      until: (events) => {
        over = events.some((e) => e.event === "database.ready" || (e.event === "sandbox.phase" && e.data.data.phase !== "provisioning"));
        return over;
      },
      // The kill ends the stream under it.
    }).catch(() => []);
    const box = await api(server, "POST", `/api/v1/projects/${project}/sandboxes`);
    assert.equal(box.status, 201, JSON.stringify(box.body));
    const id = box.body.id as string;
    boxes.push(id);
    // Watching the server for the project's role (made first, before its database): a
    // condition on the server, not a fixed wait.
    const dir = join(dataDir, "projects-postgres");
    const watcher = new pg.Client({
      host: join(dir, "run"),
      port: 5432,
      user: "postgres",
      password: readFileSync(join(dir, "password"), "utf8").trim(),
      database: "postgres",
    });
    await watcher.connect();
    try {
      while (!over) {
        const { rows } = await watcher.query("select count(*)::int as n from pg_roles where starts_with(rolname, $1)", [`p_${project}_`]);
        if (rows[0].n > 0) break;
      }
    } finally {
      await watcher.end();
    }
    await kill();
    await watching;
    assert.equal(managedPostmaster(), postmaster, "the managed server survives the kill");
    const atKill = await standing(project);
    t.diagnostic(`at the kill: ${JSON.stringify(atKill)}`);
    // Really cut mid-way: the role is on the server, the row still pending.
    assert.deepEqual(atKill.rows, ["pending"], JSON.stringify(atKill));
    const roles = await superuserQuery("projects-postgres", "postgres", "select count(*)::int as n from pg_roles where starts_with(rolname, $1)", [
      `p_${project}_`,
    ]);
    assert.equal(roles[0].n, 1);
    await start();
    await assertOneWorkingDatabase(project, id);
  });
});
