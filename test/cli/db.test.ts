// `outpost db <project> …` and `outpost project delete --database` as a user runs them: the
// built CLI (run `npm run build` first) against a real control plane whose project databases
// live on the machine's PostgreSQL (the `server` provisioner).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import { api, MACHINE_PG, startTestServer, type TestServer } from "../helpers/server.ts";
import { runCli } from "./harness.ts";

describe("outpost db (server provisioner on the machine's PostgreSQL)", () => {
  let s: TestServer;
  let admin: pg.Client;
  let env: Record<string, string>;
  const name = `clidb-${randomLowerAlnum(6)}`;

  const outpost = (...args: string[]) => runCli(args, env, 60_000);
  const ok = async (...args: string[]) => {
    const result = await outpost(...args);
    assert.equal(result.code, 0, `outpost ${args.join(" ")}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    return result.stdout;
  };
  const onServer = async (database: string) => (await admin.query("select 1 from pg_database where datname = $1", [database])).rowCount === 1;

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "server", databaseAdminUrl: MACHINE_PG });
    env = { OUTPOST_URL: s.url, OUTPOST_TOKEN: s.token };
    admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
    await admin.connect();
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name } })).status, 201);
  });

  after(async () => {
    const { rows } = await s.server.pool.query<{ name: string }>("select name from databases where status <> 'dropped'").catch(() => ({ rows: [] }));
    for (const row of rows) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(row.name)} with (force)`).catch(() => {});
      await admin.query(`drop role if exists ${pg.escapeIdentifier(row.name)}`).catch(() => {});
    }
    await admin?.end();
    await s?.close();
  });

  test("info, create, reveal, reset-password, reset, delete", async () => {
    const none = await outpost("db", name);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /has no database\. \(DATABASE_NOT_FOUND/);
    assert.match(none.stderr, new RegExp(`hint: Create it with \`outpost db ${name} create\``));

    const created = await ok("db", name, "create");
    assert.match(created, /status:\s+ready/);
    const database = /database:\s+(\S+)/.exec(created)?.[1] ?? "";
    assert.ok(await onServer(database), created);
    assert.match(created, new RegExp(`url:\\s+postgresql://${database}:\\*\\*\\*\\*@127\\.0\\.0\\.1:5432/${database}`));

    const info = JSON.parse(await ok("db", name, "info", "--json"));
    assert.equal(info.name, database);
    assert.equal(info.status, "ready");
    assert.match(info.serverVersion, /^\d+\.\d+/);
    const revealed = await ok("--json", "db", name, "--reveal");
    const password = decodeURIComponent(new URL(JSON.parse(revealed).connectionString).password);
    assert.match(password, /^[A-Za-z0-9_-]{32,}$/);

    assert.match(await ok("db", name, "reset-password"), /new password set/);
    const after = decodeURIComponent(new URL(JSON.parse(await ok("db", name, "info", "--reveal", "--json")).connectionString).password);
    assert.notEqual(after, password);

    // reset and delete drop data: the project's name must be typed.
    const unconfirmed = await outpost("db", name, "reset");
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /needs --confirm/);
    const wrong = await outpost("db", name, "reset", "--confirm", "other");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /CONFIRMATION_MISMATCH/);
    const client = new pg.Client({ connectionString: `${MACHINE_PG.replace("postgres@", `${database}@`)}/${database}` });
    await client.connect();
    await client.query("create table notes (body text)");
    await client.end();
    assert.match(await ok("db", name, "reset", "--confirm", name), /reset: the database is empty/);
    const empty = new pg.Client({ connectionString: `${MACHINE_PG.replace("postgres@", `${database}@`)}/${database}` });
    await empty.connect();
    assert.equal((await empty.query("select count(*)::int as n from pg_tables where tablename = 'notes'")).rows[0].n, 0);
    await empty.end();

    assert.equal((await outpost("db", name, "delete")).code, 2);
    assert.match(await ok("db", name, "delete", "--confirm", name), new RegExp(`deleted the database of ${name}`));
    assert.equal(await onServer(database), false);
  });

  test("project delete asks about the database: --database keep or drop", async () => {
    const project = `${name}-p`;
    await ok("project", "create", project);
    const database = JSON.parse(await ok("db", project, "create", "--json")).name as string;
    const asked = await outpost("project", "delete", project);
    assert.equal(asked.code, 1);
    assert.match(asked.stderr, /DATABASE_CHOICE_REQUIRED/);
    assert.match(asked.stderr, /--database keep/);
    assert.equal((await outpost("project", "delete", project, "--database", "maybe")).code, 2);
    await ok("project", "delete", project, "--database", "keep");
    assert.ok(await onServer(database), "kept");
    const kept = await api(s, "GET", "/api/v1/databases");
    assert.ok(kept.body.items.some((d: { name: string }) => d.name === database));

    const dropped = `${name}-q`;
    await ok("project", "create", dropped);
    const droppedDb = JSON.parse(await ok("db", dropped, "create", "--json")).name as string;
    await ok("project", "delete", dropped, "--database", "drop");
    assert.equal(await onServer(droppedDb), false);
  });

  test("bad usage", async () => {
    const noProject = await outpost("db");
    assert.equal(noProject.code, 2);
    assert.match(noProject.stderr, /needs a project/);
    const unknown = await outpost("db", name, "frobnicate");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown verb 'db frobnicate'/);
    assert.equal((await outpost("db", name, "create", "--reveal")).code, 2);
    assert.equal((await outpost("db", name, "info", "extra")).code, 2);
    const missing = await outpost("db", "no-such-project");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /PROJECT_NOT_FOUND/);
    const help = await outpost("db", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /outpost db <project> reset --confirm NAME/);
  });
});
