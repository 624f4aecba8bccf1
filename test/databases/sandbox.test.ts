// A project's database from inside its sandbox, end to end with the managed provisioner (a
// second embedded PostgreSQL, password auth): the `database` stage makes it before the
// sandbox starts; `psql "$DATABASE_URL"` works at 127.0.0.1:5432 (bridged through the
// sandbox's socket); the data outlives the sandbox; one project's login reaches neither
// another project's database nor anything else on the server; the password is redacted from
// output like a secret.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runEvents } from "../helpers/runs.ts";
import { deleteAndWait, exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("a project's database inside its sandbox (managed provisioner)", () => {
  let s: TestServer;
  let a: { id: string };
  let b: { id: string };
  const psql = async (sandbox: string, sql: string, url = '"$DATABASE_URL"') => {
    const out = await exec(s, sandbox, ["sh", "-c", `psql ${url} -X -q -t -A -v ON_ERROR_STOP=1 -c "${sql}"`]);
    return { code: out.exitCode as number, stdout: String(out.stdout).trim(), stderr: String(out.stderr) };
  };

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "managed" });
    for (const name of ["alpha", "beta"]) {
      const created = await api(s, "POST", "/api/v1/projects", { body: { name } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.database, "postgres", "a new project gets a database where a provisioner runs");
    }
    [a, b] = await Promise.all([runningSandbox(s, "alpha"), runningSandbox(s, "beta")]);
  });
  after(async () => s?.close());

  test("the database stage comes first; inside, DATABASE_URL and PG* point at 127.0.0.1:5432", async () => {
    const sandbox = (await api(s, "GET", `/api/v1/sandboxes/${a.id}`)).body;
    // First of all but the environment's (which decides what the sandbox runs on).
    assert.deepEqual(
      sandbox.stages.slice(0, 2).map((stage: { name: string }) => stage.name),
      ["environment", "database"],
    );
    assert.equal(sandbox.stages[1].state, "done", JSON.stringify(sandbox.stages[1]));
    const env = await exec(s, a.id, ["sh", "-c", 'echo "$PGHOST:$PGPORT $PGUSER $PGDATABASE"; echo "$DATABASE_URL" | sed "s/:[^:@]*@/:***@/"']);
    const [line, url] = String(env.stdout).trim().split("\n");
    assert.match(line ?? "", /^127\.0\.0\.1:5432 p_alpha_[a-z0-9]+ p_alpha_[a-z0-9]+$/);
    assert.match(url ?? "", /^postgresql:\/\/p_alpha_[a-z0-9]+:\*\*\*@127\.0\.0\.1:5432\/p_alpha_[a-z0-9]+$/);
  });

  test("psql creates a table and rows; they outlive the sandbox", async () => {
    const made = await psql(
      a.id,
      "create table notes (id serial primary key, body text); insert into notes (body) values ('kept'); select count(*) from notes",
    );
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout, "1");
    await deleteAndWait(s, a.id);
    a = await runningSandbox(s, "alpha");
    const read = await psql(a.id, "select body from notes");
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, "kept");
  });

  test("one project's login reaches neither another project's database nor the server's own", async () => {
    const beta = (await api(s, "GET", "/api/v1/projects/beta/database")).body;
    assert.equal(beta.status, "ready", JSON.stringify(beta));
    for (const database of [beta.name, "postgres", "template1", "outpost"]) {
      const tried = await psql(a.id, "select 1", `"postgresql://$PGUSER:$PGPASSWORD@127.0.0.1:5432/${database}"`);
      assert.notEqual(tried.code, 0, `${database}: ${tried.stdout}`);
      assert.match(tried.stderr, /permission denied|does not exist|not permitted/, tried.stderr);
    }
    for (const sql of ["create role intruder superuser", "create role intruder", "create database other"]) {
      const escalate = await psql(a.id, sql);
      assert.notEqual(escalate.code, 0, sql);
      assert.match(escalate.stderr, /permission denied|must be superuser/, `${sql}: ${escalate.stderr}`);
    }
    const wrong = await psql(a.id, "select 1", '"postgresql://$PGUSER:wrong-password@127.0.0.1:5432/$PGDATABASE"');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /password authentication failed/);
    // Its own database keeps working from the other sandbox of the pair, untouched.
    assert.equal((await psql(b.id, "select current_database()")).stdout, beta.name);
  });

  test("a conversation with a database branch works on that copy; the project's database is untouched", async () => {
    // The "agent": a migration on whatever database its turn is given, then which one that was.
    const command = `psql "$DATABASE_URL" -X -q -t -A -c "create table if not exists migrated (n int); insert into migrated values (1); select current_database() || ':' || count(*) from migrated"; echo "pw=$PGPASSWORD"`;
    const cnv = (await api(s, "POST", `/api/v1/sandboxes/${a.id}/conversations`, { body: { agent: "custom", command, title: "Risky migration" } })).body;
    const branch = await api(s, "POST", "/api/v1/projects/alpha/database/branches", { body: { conversationId: cnv.id } });
    assert.equal(branch.status, 201, JSON.stringify(branch.body));
    assert.equal(branch.body.status, "ready");
    const sent = await api(s, "POST", `/api/v1/conversations/${cnv.id}/messages`, { body: { text: "migrate" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const events = await runEvents(s, sent.body.run.id);
    const said = events.filter((e) => e.event === "message").map((e) => e.data.text);
    assert.deepEqual(said, [`${branch.body.name}:1`, "pw=[secret:PGPASSWORD]"], JSON.stringify(events.map((e) => e.data)));
    // The main database has no such table: the migration ran on the copy only.
    const main = await psql(a.id, "select to_regclass('public.migrated') is null");
    assert.equal(main.stdout, "t", main.stderr);
  });

  test("the password is redacted from what commands print", async () => {
    const printed = await exec(s, a.id, ["sh", "-c", 'echo "pw=$PGPASSWORD"']);
    assert.equal(String(printed.stdout).trim(), "pw=[secret:PGPASSWORD]");
  });
});
