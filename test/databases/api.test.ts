// A project's database through the API, on the `server` provisioner over the machine's
// PostgreSQL (127.0.0.1:5432, trust auth: passwords are checked on the managed server's tests,
// here only that they change). What the API says is checked against the server itself (admin
// SQL), and databases are dropped behind Outpost's back the same way.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { loadSecretKey } from "../../src/config/data-dir.ts";
import { SecretBox } from "../../src/crypto/secrets.ts";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import { DatabaseService } from "../../src/services/databases/databases.ts";
import type { Provisioner } from "../../src/services/databases/provisioner.ts";
import { ServerProvisioner } from "../../src/services/databases/server.ts";
import { api, createUser, MACHINE_PG, startTestServer, type TestServer } from "../helpers/server.ts";

describe("project databases: API (server provisioner on the machine's PostgreSQL)", () => {
  let s: TestServer;
  let admin: pg.Client;
  let bob: { id: string; token: string };
  let carol: { id: string; token: string };
  let dave: { id: string; token: string };
  const suffix = randomLowerAlnum(6);
  let counter = 0;

  /** A project of the admin's where bob is a viewer and carol an editor. */
  const newProject = async (options: { database?: "postgres" | "none" } = {}) => {
    const name = `dbapi-${suffix}-${++counter}`;
    const created = await api(s, "POST", "/api/v1/projects", { body: { name, ...options } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const [user, role] of [
      [bob, "viewer"],
      [carol, "editor"],
    ] as const) {
      const added = await api(s, "POST", `/api/v1/projects/${created.body.id}/members`, { body: { userId: user.id, role } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    return created.body as { id: string; name: string };
  };
  const createDb = async (project: { id: string }) => {
    const res = await api(s, "POST", `/api/v1/projects/${project.id}/database`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const onServer = async (name: string) => (await admin.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1;
  const roleOf = async (name: string) => (await admin.query("select rolpassword, rolsuper, rolcreatedb from pg_authid where rolname = $1", [name])).rows[0];
  const eventsOf = async (projectId: string) =>
    (await s.server.pool.query<{ type: string }>("select type from events where project_id = $1 and type like 'database.%' order by id", [projectId])).rows.map(
      (r) => r.type,
    );
  /** A client of the project's database as its own role (trust auth on this server). */
  const asRole = async (database: { name: string; role: string }) => {
    const client = new pg.Client({ connectionString: `${MACHINE_PG.replace("postgres@", `${database.role}@`)}/${database.name}` });
    await client.connect();
    return client;
  };

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "server", databaseAdminUrl: MACHINE_PG });
    admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
    await admin.connect();
    bob = await createUser(s, `bob${suffix}`);
    carol = await createUser(s, `carol${suffix}`);
    dave = await createUser(s, `dave${suffix}`);
  });

  after(async () => {
    // Whatever a failed test left on the machine's server goes.
    const { rows } = await s.server.pool.query<{ name: string }>("select name from databases where status <> 'dropped'").catch(() => ({ rows: [] }));
    for (const { name } of rows) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`).catch(() => {});
      await admin.query(`drop role if exists ${pg.escapeIdentifier(name)}`).catch(() => {});
    }
    await admin?.end();
    await s?.close();
  });

  test("create, look, reveal: the API's answer matches the server's", async () => {
    const project = await newProject();
    const none = await api(s, "GET", `/api/v1/projects/${project.id}/database`);
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, "DATABASE_NOT_FOUND");
    assert.match(none.body.error.hint, /outpost db .* create/);

    const created = await createDb(project);
    assert.equal(created.status, "ready");
    assert.equal(created.provisioner, "server");
    assert.match(created.name, new RegExp(`^p_dbapi_${suffix}_\\d+_[a-z0-9]{6}$`));
    assert.equal(created.role, created.name);
    assert.equal(created.host, "127.0.0.1");
    assert.equal(created.port, 5432);
    assert.equal(created.connectionString, `postgresql://${created.role}:****@127.0.0.1:5432/${created.name}`);
    assert.ok(await onServer(created.name), "the database is on the server");
    const role = await roleOf(created.role);
    assert.equal(role.rolsuper, false);
    assert.equal(role.rolcreatedb, false);
    assert.match(role.rolpassword, /^SCRAM-SHA-256\$/, "the role has a password");
    // Asking for it means wanting it: the project's sandboxes get it.
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}`)).body.database, "postgres");

    const again = await api(s, "POST", `/api/v1/projects/${project.id}/database`);
    assert.equal(again.status, 200, "a second create answers the same database");
    assert.equal(again.body.id, created.id);

    const got = await api(s, "GET", `/api/v1/projects/${project.id}/database`);
    assert.equal(got.status, 200);
    assert.equal(got.body.status, "ready");
    assert.ok(got.body.sizeBytes > 0, "size from the server");
    const version = (await admin.query("show server_version")).rows[0].server_version as string;
    assert.equal(got.body.serverVersion, version.split(" ")[0], "e.g. 15.20");
    assert.ok(
      got.body.extensions.some((e: { name: string }) => e.name === "plpgsql"),
      "the server's extensions are listed",
    );
    assert.ok(got.body.connectionString.includes(":****@"));

    const revealed = await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`);
    assert.equal(revealed.status, 200);
    const password = decodeURIComponent(new URL(revealed.body.connectionString).password);
    assert.match(password, /^[A-Za-z0-9_-]{32,}$/, "24+ random bytes, base64url");
    // The sealed copy at rest is not the password.
    const stored = (await s.server.pool.query("select password_enc from databases where id = $1", [created.id])).rows[0].password_enc as string;
    assert.ok(!stored.includes(password));
    assert.deepEqual(await eventsOf(project.id), ["database.created", "database.ready"]);
  });

  test("viewers see it without its password; editors reveal it; no role is a 404", async () => {
    const project = await newProject();
    await createDb(project);
    const asBob = await api(s, "GET", `/api/v1/projects/${project.id}/database`, { token: bob.token });
    assert.equal(asBob.status, 200);
    assert.ok(asBob.body.connectionString.includes(":****@"));
    const bobReveal = await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`, { token: bob.token });
    assert.equal(bobReveal.status, 403);
    assert.equal(bobReveal.body.error.code, "FORBIDDEN");
    assert.match(bobReveal.body.error.hint, /--role editor/);
    assert.equal((await api(s, "POST", `/api/v1/projects/${project.id}/database/reset-password`, { token: bob.token })).status, 403);
    const carolReveal = await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`, { token: carol.token });
    assert.equal(carolReveal.status, 200);
    assert.ok(!carolReveal.body.connectionString.includes(":****@"));
    // An editor may reset, not delete.
    const carolDelete = await api(s, "DELETE", `/api/v1/projects/${project.id}/database?confirm=${project.name}`, { token: carol.token });
    assert.equal(carolDelete.status, 403);
    assert.match(carolDelete.body.error.hint, /--role owner/);
    for (const [method, path] of [
      ["GET", "database"],
      ["GET", "database?reveal=true"],
      ["POST", "database"],
      ["POST", "database/reset-password"],
      ["DELETE", `database?confirm=${project.name}`],
    ] as const) {
      const res = await api(s, method, `/api/v1/projects/${project.id}/${path}`, { token: dave.token });
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "PROJECT_NOT_FOUND");
    }
    const daveReset = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset`, { token: dave.token, body: { confirm: project.name } });
    assert.equal(daveReset.status, 404);
  });

  test("reset-password: a new password on the server, the same database", async () => {
    const project = await newProject();
    const created = await createDb(project);
    const reveal = async () => (await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`)).body.connectionString as string;
    const before = { url: await reveal(), secret: (await roleOf(created.role)).rolpassword };
    const res = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset-password`, { token: carol.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, created.id);
    assert.ok(res.body.connectionString.includes(":****@"));
    assert.notEqual(await reveal(), before.url, "a new password");
    assert.notEqual((await roleOf(created.role)).rolpassword, before.secret, "the server has it");
    assert.ok((await eventsOf(project.id)).includes("database.password_reset"));
  });

  test("reset: the typed name is required; then the database is empty, with the same name and password", async () => {
    const project = await newProject();
    const created = await createDb(project);
    const url = (await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`)).body.connectionString;
    const client = await asRole(created);
    await client.query("create table notes (body text); insert into notes values ('kept?')");
    await client.end();

    const wrong = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset`, { body: { confirm: `${project.name}x` } });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error.code, "CONFIRMATION_MISMATCH");
    const unknown = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset`, { body: { confirm: project.name, force: true } });
    assert.equal(unknown.status, 400, "unknown fields are refused");
    const without = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset`, { body: {} });
    assert.equal(without.status, 400);
    const stillThere = await asRole(created);
    assert.equal((await stillThere.query("select count(*)::int as n from notes")).rows[0].n, 1, "refused resets changed nothing");
    await stillThere.end();

    const reset = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset`, { token: carol.token, body: { confirm: project.name } });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.body.status, "ready");
    assert.equal(reset.body.name, created.name);
    const empty = await asRole(created);
    assert.equal((await empty.query("select count(*)::int as n from pg_tables where tablename = 'notes'")).rows[0].n, 0, "empty");
    await empty.end();
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`)).body.connectionString, url, "the same login");
    assert.ok((await eventsOf(project.id)).includes("database.reset"));
  });

  test("a database dropped behind Outpost's back shows missing, and POST makes it again", async () => {
    const project = await newProject();
    const created = await createDb(project);
    await admin.query(`drop database ${pg.escapeIdentifier(created.name)} with (force)`);
    const got = await api(s, "GET", `/api/v1/projects/${project.id}/database`);
    assert.equal(got.status, 200);
    assert.equal(got.body.status, "missing");
    assert.equal(got.body.sizeBytes, null);
    assert.ok(got.body.error);
    assert.ok((await eventsOf(project.id)).includes("database.missing"));
    // Not made again by looking.
    assert.equal(await onServer(created.name), false);
    const password = await api(s, "POST", `/api/v1/projects/${project.id}/database/reset-password`);
    assert.equal(password.status, 409);
    assert.equal(password.body.error.code, "DATABASE_MISSING");

    const again = await api(s, "POST", `/api/v1/projects/${project.id}/database`);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, "ready");
    assert.equal(again.body.id, created.id);
    assert.ok(await onServer(created.name));
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database`)).body.status, "ready");
  });

  test("delete: owners only, with the project's name typed; then gone from the server and from the project", async () => {
    const project = await newProject();
    const created = await createDb(project);
    const noConfirm = await api(s, "DELETE", `/api/v1/projects/${project.id}/database`);
    assert.equal(noConfirm.status, 400);
    const wrong = await api(s, "DELETE", `/api/v1/projects/${project.id}/database?confirm=nope`);
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error.code, "CONFIRMATION_MISMATCH");
    assert.ok(await onServer(created.name));

    const deleted = await api(s, "DELETE", `/api/v1/projects/${project.id}/database?confirm=${project.name}`);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal(await onServer(created.name), false);
    assert.equal(await roleOf(created.role), undefined, "its role is gone too");
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database`)).status, 404);
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}`)).body.database, "none");
    assert.ok((await eventsOf(project.id)).includes("database.dropped"));
    // Made again on request, under a new name.
    const fresh = await createDb(project);
    assert.notEqual(fresh.name, created.name);
  });

  test("deleting a project asks about its database; kept ones are an admin's to list, attach and drop", async () => {
    const kept = await newProject();
    const keptDb = await createDb(kept);
    const asked = await api(s, "DELETE", `/api/v1/projects/${kept.id}`);
    assert.equal(asked.status, 409);
    assert.equal(asked.body.error.code, "DATABASE_CHOICE_REQUIRED");
    assert.match(asked.body.error.hint, /--database keep/);
    assert.equal((await api(s, "GET", `/api/v1/projects/${kept.id}`)).status, 200, "the project is still there");
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${kept.id}?database=maybe`)).status, 400);
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${kept.id}?database=keep`)).status, 204);
    assert.ok(await onServer(keptDb.name), "kept: the data stays");

    const list = await api(s, "GET", "/api/v1/databases");
    assert.equal(list.status, 200);
    const listed = list.body.items.find((d: { id: string }) => d.id === keptDb.id);
    assert.ok(listed, JSON.stringify(list.body));
    assert.equal(listed.projectId, null);
    assert.equal(listed.projectName, kept.name);
    assert.equal(listed.status, "ready");
    const asCarol = await api(s, "GET", "/api/v1/databases", { token: carol.token });
    assert.equal(asCarol.status, 403);
    assert.match(asCarol.body.error.hint, /admin/);

    // Attached to a project that has none; refused for one that has one.
    const full = await newProject();
    await createDb(full);
    const refused = await api(s, "POST", `/api/v1/databases/${keptDb.id}/attach`, { body: { project: full.id } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "DATABASE_EXISTS");
    const target = await newProject();
    assert.equal((await api(s, "POST", `/api/v1/databases/${keptDb.id}/attach`, { token: carol.token, body: { project: target.id } })).status, 403);
    assert.equal((await api(s, "POST", `/api/v1/databases/${keptDb.id}/attach`, { body: { project: target.id, extra: 1 } })).status, 400);
    const attached = await api(s, "POST", `/api/v1/databases/${keptDb.id}/attach`, { body: { project: target.name } });
    assert.equal(attached.status, 200, JSON.stringify(attached.body));
    assert.equal(attached.body.projectId, target.id);
    const now = await api(s, "GET", `/api/v1/projects/${target.id}/database`);
    assert.equal(now.body.id, keptDb.id);
    assert.equal(now.body.status, "ready");
    assert.equal((await api(s, "GET", `/api/v1/projects/${target.id}`)).body.database, "postgres");
    assert.ok(!(await api(s, "GET", "/api/v1/databases")).body.items.some((d: { id: string }) => d.id === keptDb.id), "no longer kept");

    // Kept again, then dropped by an admin with its name typed.
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${target.id}?database=keep`)).status, 204);
    const wrong = await api(s, "DELETE", `/api/v1/databases/${keptDb.id}?confirm=${target.name}`);
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error.code, "CONFIRMATION_MISMATCH");
    assert.equal((await api(s, "DELETE", `/api/v1/databases/${keptDb.id}?confirm=${keptDb.name}`, { token: carol.token })).status, 403);
    assert.equal((await api(s, "DELETE", `/api/v1/databases/${keptDb.id}?confirm=${keptDb.name}`)).status, 204);
    assert.equal(await onServer(keptDb.name), false);
    const gone = await api(s, "DELETE", `/api/v1/databases/${keptDb.id}?confirm=${keptDb.name}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, "DATABASE_NOT_FOUND");

    // Dropped with its project.
    const dropped = await newProject();
    const droppedDb = await createDb(dropped);
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${dropped.id}?database=drop`)).status, 204);
    assert.equal(await onServer(droppedDb.name), false);
    assert.ok(!(await api(s, "GET", "/api/v1/databases")).body.items.some((d: { id: string }) => d.id === droppedDb.id));

    // A project without a database needs no choice.
    const plain = await newProject();
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${plain.id}`)).status, 204);
  });

  test("the sandbox's side: the database stage makes it, finishes a half-made one, and reports a missing one without making it", async () => {
    // The service the stage calls, over the same control-plane database and secret key.
    const box = new SecretBox(loadSecretKey(s.dataDir, undefined));
    const provisioner = new ServerProvisioner(MACHINE_PG);
    const service = new DatabaseService(s.server.pool, box, provisioner);
    const signal = new AbortController().signal;
    try {
      const project = await newProject({ database: "postgres" });
      // A start that dies between the row and the server (here: the server refuses to answer).
      const down: Provisioner = Object.assign(Object.create(provisioner), {
        ensure: async () => {
          throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
        },
      });
      const broken = new DatabaseService(s.server.pool, box, down);
      await assert.rejects(
        broken.ensureForProject(project.id, () => {}, signal),
        { code: "DATABASE_SERVER_UNAVAILABLE" },
      );
      const half = (await api(s, "GET", `/api/v1/projects/${project.id}/database`)).body;
      assert.equal(half.status, "pending");
      assert.equal(await onServer(half.name), false);

      const progress: string[] = [];
      const summary = await service.ensureForProject(project.id, (message) => progress.push(message), signal);
      assert.match(summary, new RegExp(`^ready: ${half.name} \\(PostgreSQL 15`));
      assert.ok(progress.length > 0);
      assert.ok(await onServer(half.name));
      assert.equal(await service.ensureForProject(project.id, () => {}, signal), summary, "twice: the same database");
      assert.equal((await s.server.pool.query("select count(*)::int as n from databases where project_id = $1", [project.id])).rows[0].n, 1);

      const login = await service.forSandbox(project.id);
      assert.ok(login);
      assert.deepEqual(login.endpoint, { kind: "tcp", host: "127.0.0.1", port: 5432 });
      assert.equal(login.login.name, half.name);
      const revealed = (await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=true`)).body.connectionString;
      assert.equal(decodeURIComponent(new URL(revealed).password), login.login.password);

      await admin.query(`drop database ${pg.escapeIdentifier(half.name)} with (force)`);
      const missing = await service.ensureForProject(project.id, () => {}, signal);
      assert.match(missing, new RegExp(`^missing: .*outpost db ${project.name} reset`));
      assert.equal(await onServer(half.name), false, "not made again silently");
      assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database`)).body.status, "missing");
      assert.ok(await service.forSandbox(project.id), "the sandbox is still told (the server refuses it)");

      // A project without a database gets none.
      const plain = await newProject({ database: "none" });
      assert.match(await service.ensureForProject(plain.id, () => {}, signal), /^none:/);
      assert.equal(await service.forSandbox(plain.id), null);
    } finally {
      await provisioner.close();
    }
  });

  test("bad input and other users' ids", async () => {
    const project = await newProject();
    await createDb(project);
    assert.equal((await api(s, "POST", `/api/v1/projects/${project.id}/database`, { body: { name: "mine" } })).status, 400);
    assert.equal((await api(s, "POST", `/api/v1/projects/${project.id}/database/reset-password`, { body: { x: 1 } })).status, 400);
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database?reveal=yes`)).status, 400);
    assert.equal((await api(s, "GET", `/api/v1/projects/${project.id}/database?other=1`)).status, 400);
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${project.id}/database?confirm=${project.name}&force=1`)).status, 400);
    assert.equal((await api(s, "POST", "/api/v1/databases/not-an-id/attach", { body: { project: project.id } })).status, 400);
    const unknown = await api(s, "POST", "/api/v1/databases/db_nothing000000000/attach", { body: { project: project.id } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "DATABASE_NOT_FOUND");
    // A database still with its project is not a kept one.
    const mine = (await api(s, "GET", `/api/v1/projects/${project.id}/database`)).body;
    const notKept = await api(s, "DELETE", `/api/v1/databases/${mine.id}?confirm=${mine.name}`);
    assert.equal(notKept.status, 404);
    assert.ok(await onServer(mine.name));
    // Someone else's project: the same 404 as no project at all.
    const daves = await api(s, "POST", "/api/v1/projects", { token: dave.token, body: { name: `dave-${suffix}` } });
    assert.equal(daves.status, 201);
    const other = await api(s, "GET", `/api/v1/projects/${daves.body.id}/database`);
    const nothing = await api(s, "GET", "/api/v1/projects/prj_nothing000000000/database");
    assert.equal(other.status, 404);
    assert.deepEqual([other.body.error.code, other.body.error.hint], [nothing.body.error.code, nothing.body.error.hint]);
    // An admin who is no member of dave's project cannot attach to it either.
    const kept = await newProject();
    const keptDb = await createDb(kept);
    assert.equal((await api(s, "DELETE", `/api/v1/projects/${kept.id}?database=keep`)).status, 204);
    const toDaves = await api(s, "POST", `/api/v1/databases/${keptDb.id}/attach`, { body: { project: daves.body.id } });
    assert.equal(toDaves.status, 404);
    assert.equal(toDaves.body.error.code, "PROJECT_NOT_FOUND");
  });
});
