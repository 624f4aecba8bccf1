// What is in a project's database, through the API: dump and restore (the host's pg_dump and
// psql), branches, tables and the read-only query; on the `server` provisioner over the
// machine's PostgreSQL (127.0.0.1:5432). Data is written as the project's own role (trust
// auth there), the way a sandbox would, and checked with admin SQL against the server.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import { PgClientTools, parseToolVersion, restricted, supportsRestrict } from "../../src/services/databases/dump.ts";
import { api, createUser, MACHINE_PG, startTestServer, type TestServer } from "../helpers/server.ts";

async function collect(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString("utf8");
}

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("database dumps: the tools and the restricted input (units)", () => {
  test("pg_dump's own \\restrict pair is taken out, ours put first; anything else stays", async () => {
    const dump = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\nSET x = 1;\nCOPY t FROM stdin;\n\\restrict abc123\n\\.\n\n\\unrestrict abc123\n";
    for (const size of [1, 7, 4096]) {
      const out = await collect(restricted(chunks(dump, size), "KEY"));
      assert.equal(
        out,
        "\\restrict KEY\n--\n-- PostgreSQL database dump\n--\n\n\n\nSET x = 1;\nCOPY t FROM stdin;\n\\restrict abc123\n\\.\n\n",
        `chunks of ${size}`,
      );
    }
    // Without pg_dump's pair: untouched, behind ours; an \unrestrict with another key stays (psql refuses it).
    assert.equal(await collect(restricted(chunks("select 1;\n\\unrestrict KEY2\n", 3), "K")), "\\restrict K\nselect 1;\n\\unrestrict KEY2\n");
    assert.equal(
      await collect(restricted(chunks("\\restrict a1\nselect 1;\n\\unrestrict b2\n", 5), "K")),
      "\\restrict K\n\nselect 1;\n\\unrestrict b2\n",
      "only the key that opened is closed",
    );
  });

  test("versions: parsed, and which psql has restricted mode", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"), {
      version: "15.20 (Debian 15.20-0+deb12u1)",
      major: 15,
      minor: 20,
    });
    assert.deepEqual(parseToolVersion("psql (PostgreSQL) 18beta1"), { version: "18beta1", major: 18, minor: 0 });
    assert.equal(parseToolVersion("not postgres"), null);
    assert.equal(supportsRestrict({ major: 15, minor: 13 }), false);
    assert.equal(supportsRestrict({ major: 15, minor: 14 }), true);
    assert.equal(supportsRestrict({ major: 18, minor: 0 }), true);
    assert.equal(supportsRestrict({ major: 12, minor: 99 }), false);
  });

  test("no tools, or tools older than the server: 501 with the package that fixes it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "outpost-no-pg-"));
    try {
      const none = new PgClientTools({ clientBin: empty });
      await assert.rejects(none.pgDump(15), (error: { code: string; status: number; fix: string }) => {
        assert.equal(error.code, "DATABASE_DUMP_UNAVAILABLE");
        assert.equal(error.status, 501);
        assert.match(error.fix, /apt-get install -y postgresql-client-15/);
        return true;
      });
      await assert.rejects(none.psql(15), { code: "DATABASE_DUMP_UNAVAILABLE" });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const host = new PgClientTools();
    const dump = await host.pgDump(15);
    assert.ok(dump.major >= 15, `${dump.path} ${dump.version}`);
    await assert.rejects(host.pgDump(99), (error: { code: string; message: string; fix: string }) => {
      assert.equal(error.code, "DATABASE_DUMP_UNAVAILABLE");
      assert.match(error.message, /older than the server/);
      assert.match(error.fix, /postgresql-client-99/);
      return true;
    });
  });
});

describe("project databases: dump, restore, branches, tables, query (server provisioner)", () => {
  let s: TestServer;
  let admin: pg.Client;
  let viewer: { id: string; token: string };
  let stranger: { id: string; token: string };
  const suffix = randomLowerAlnum(6);
  let counter = 0;

  /** A project of the admin's with its database made, where `viewer` is a viewer. */
  const newProject = async () => {
    const name = `dbdata-${suffix}-${++counter}`;
    const created = await api(s, "POST", "/api/v1/projects", { body: { name } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const added = await api(s, "POST", `/api/v1/projects/${created.body.id}/members`, { body: { userId: viewer.id, role: "viewer" } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const database = await api(s, "POST", `/api/v1/projects/${created.body.id}/database`);
    assert.equal(database.status, 201, JSON.stringify(database.body));
    return { id: created.body.id as string, name, database: database.body as { id: string; name: string; role: string } };
  };
  const path = (project: { id: string }, rest = "") => `/api/v1/projects/${project.id}/database${rest}`;
  /** A client of a database as its own role (trust auth on this server), like a sandbox's psql. */
  const asRole = async (database: { name: string; role: string }) => {
    const client = new pg.Client({ connectionString: `${MACHINE_PG.replace("postgres@", `${database.role}@`)}/${database.name}` });
    await client.connect();
    return client;
  };
  const rowsOf = async (database: { name: string; role: string }, sql: string) => {
    const client = await asRole(database);
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  const onServer = async (name: string) => (await admin.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1;
  const seed = async (database: { name: string; role: string }) => {
    const client = await asRole(database);
    try {
      await client.query(`
        create table items (id serial primary key, label text not null, price numeric(10,2), tags text[], meta jsonb, made timestamptz default now());
        insert into items (label, price, tags, meta) values
          ('plain', 1.50, '{a,b}', '{"k": 1}'),
          (E'tab\\there, newline\\nthere, backslash \\\\ and quote ''', 99999999.99, null, null),
          (E'\\\\. and \\\\restrict abc in data', null, '{}', '[]');
        create view cheap as select label from items where price < 10;
        create function total() returns numeric language sql as $$ select sum(price) from items $$;
        create index items_label on items (label);
      `);
    } finally {
      await client.end();
    }
  };

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "server", databaseAdminUrl: MACHINE_PG });
    admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
    await admin.connect();
    viewer = await createUser(s, `viewer${suffix}`);
    stranger = await createUser(s, `stranger${suffix}`);
  });

  after(async () => {
    const { rows } = await s.server.pool.query<{ name: string }>("select name from databases where status <> 'dropped'").catch(() => ({ rows: [] }));
    for (const { name } of rows) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`).catch(() => {});
      await admin.query(`drop role if exists ${pg.escapeIdentifier(name)}`).catch(() => {});
    }
    await admin?.end();
    await s?.close();
  });

  test("dump → reset → restore round-trips the data, the schema and the functions", async () => {
    const project = await newProject();
    await seed(project.database);
    const before = await rowsOf(project.database, "select id, label, price::text, tags, meta, made::text from items order by id");

    const dump = await api(s, "GET", path(project, "/dump"));
    assert.equal(dump.status, 200, String(dump.body).slice(0, 500));
    assert.match(dump.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(dump.headers.get("content-disposition") ?? "", new RegExp(`${project.database.name}\\.sql`));
    const sql = dump.body as string;
    assert.match(sql, /CREATE TABLE public\.items/);
    assert.match(sql, /CREATE FUNCTION public\.total\(\)/);
    assert.doesNotMatch(sql, /OWNER TO|GRANT /, "--no-owner --no-privileges");

    const reset = await api(s, "POST", path(project, "/reset"), { body: { confirm: project.name } });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual((await api(s, "GET", path(project, "/tables"))).body.items, [], "empty after the reset");

    const restored = await api(s, "POST", path(project, "/restore"), { rawBody: sql, headers: { "content-type": "application/sql" } });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.name, project.database.name);
    assert.deepEqual(await rowsOf(project.database, "select id, label, price::text, tags, meta, made::text from items order by id"), before);
    assert.deepEqual(await rowsOf(project.database, "select total()::text as t, (select count(*)::int from cheap) as c"), [{ t: "100000001.49", c: 1 }]);
    // The sequence came along: the next id follows the restored ones.
    assert.deepEqual(await rowsOf(project.database, "insert into items (label) values ('next') returning id"), [{ id: 4 }]);
    // Owned by the project's role, not whoever ran the restore.
    const owner = await rowsOf(project.database, "select tableowner from pg_tables where tablename = 'items'");
    assert.deepEqual(owner, [{ tableowner: project.database.role }]);
  });

  test("a restore is all or nothing, and psql's backslash commands never run on the host", async () => {
    const project = await newProject();
    const failing = "create table half (a int);\ninsert into half values (1);\nselect no_such_column from half;\n";
    const refused = await api(s, "POST", path(project, "/restore"), { rawBody: failing, headers: { "content-type": "text/plain" } });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "DATABASE_RESTORE_FAILED");
    assert.match(refused.body.error.message, /no_such_column/);
    assert.match(refused.body.error.message, /line 3/);
    assert.deepEqual(await rowsOf(project.database, "select to_regclass('public.half') as t"), [{ t: null }], "rolled back");

    const marker = join(tmpdir(), `outpost-pwned-${suffix}`);
    for (const attack of [`\\! touch ${marker}\n`, `select 1; \\! touch ${marker}\n`, `\\unrestrict x\n\\! touch ${marker}\n`, `\\o ${marker}\nselect 1;\n`]) {
      const answer = await api(s, "POST", path(project, "/restore"), {
        rawBody: `create table t_attack (a int);\n${attack}`,
        headers: { "content-type": "text/plain" },
      });
      assert.equal(answer.status, 422, `${attack}: ${JSON.stringify(answer.body)}`);
      assert.equal(existsSync(marker), false, `${attack} must not run`);
    }
    assert.deepEqual(await rowsOf(project.database, "select to_regclass('public.t_attack') as t"), [{ t: null }]);

    const viewerRestore = await api(s, "POST", path(project, "/restore"), {
      rawBody: "select 1;",
      token: viewer.token,
      headers: { "content-type": "text/plain" },
    });
    assert.equal(viewerRestore.status, 403);
    const viewerDump = await api(s, "GET", path(project, "/dump"), { token: viewer.token });
    assert.equal(viewerDump.status, 403, "a dump is all the data: editors only");
    const strangerDump = await api(s, "GET", path(project, "/dump"), { token: stranger.token });
    assert.equal(strangerDump.status, 404);
  });

  test("a branch has the data, diverges from its parent, and can be promoted or dropped", async () => {
    const project = await newProject();
    await seed(project.database);

    const made = await api(s, "POST", path(project, "/branches"), { body: {} });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const branch = made.body;
    assert.equal(branch.status, "ready");
    assert.equal(branch.parentId, project.database.id);
    assert.ok(branch.name.startsWith(`${project.database.name}_b_`), branch.name);
    assert.equal(branch.role, branch.name);
    assert.ok(branch.connectionString.includes(":****@"));
    assert.ok(await onServer(branch.name));
    assert.deepEqual(await rowsOf(branch, "select count(*)::int as n from items"), [{ n: 3 }], "the copy has the data");
    assert.deepEqual(
      await rowsOf(branch, "select tableowner from pg_tables where tablename = 'items'"),
      [{ tableowner: branch.role }],
      "owned by its own role",
    );

    await rowsOf(branch, "insert into items (label) values ('only in the branch'); alter table items add column risky int");
    await rowsOf(project.database, "insert into items (label) values ('only in main')");
    assert.deepEqual(await rowsOf(branch, "select label from items where label like 'only%'"), [{ label: "only in the branch" }]);
    assert.deepEqual(await rowsOf(project.database, "select label from items where label like 'only%'"), [{ label: "only in main" }]);
    assert.deepEqual(await rowsOf(project.database, "select count(*)::int as n from information_schema.columns where column_name = 'risky'"), [{ n: 0 }]);

    const listed = await api(s, "GET", path(project, "/branches"), { token: viewer.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((b: { id: string }) => b.id),
      [branch.id],
    );
    const revealed = await api(s, "GET", path(project, "/branches?reveal=true"));
    assert.match(decodeURIComponent(new URL(revealed.body.items[0].connectionString).password), /^[A-Za-z0-9_-]{32,}$/);
    assert.equal((await api(s, "GET", path(project, "/branches?reveal=true"), { token: viewer.token })).status, 403);

    // A second branch, to drop.
    const other = (await api(s, "POST", path(project, "/branches"))).body;
    assert.ok(await onServer(other.name));
    const dropped = await api(s, "DELETE", path(project, `/branches/${other.id}`));
    assert.equal(dropped.status, 204);
    assert.equal(await onServer(other.name), false);
    assert.equal((await api(s, "DELETE", path(project, `/branches/${other.id}`))).status, 404, "gone");

    const wrong = await api(s, "POST", path(project, `/branches/${branch.id}/promote`), { body: { confirm: "not-the-name" } });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error.code, "CONFIRMATION_MISMATCH");
    assert.ok(await onServer(project.database.name), "nothing changed");

    const promoted = await api(s, "POST", path(project, `/branches/${branch.id}/promote`), { body: { confirm: project.name } });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    const main = await api(s, "GET", path(project));
    assert.equal(main.body.id, branch.id, "the branch is the project's database now");
    assert.equal(main.body.name, branch.name);
    assert.equal(main.body.parentId, null);
    assert.equal(await onServer(project.database.name), false, "the old one is dropped");
    assert.deepEqual((await api(s, "GET", path(project, "/branches"))).body.items, []);
    const types = (
      await s.server.pool.query<{ type: string }>("select type from events where project_id = $1 and type like 'database.%' order by id", [project.id])
    ).rows.map((r) => r.type);
    for (const type of ["database.branched", "database.promoted", "database.dropped"]) assert.ok(types.includes(type), `${type} in ${types}`);
  });

  test("tables with row counts; the query box reads and never writes", async () => {
    const project = await newProject();
    await seed(project.database);
    await rowsOf(project.database, "create schema app; create table app.events (n int); insert into app.events select generate_series(1, 1200)");

    const tables = await api(s, "GET", path(project, "/tables"), { token: viewer.token });
    assert.equal(tables.status, 200, JSON.stringify(tables.body));
    const byName = Object.fromEntries(tables.body.items.map((t: { schema: string; name: string }) => [`${t.schema}.${t.name}`, t]));
    assert.deepEqual(Object.keys(byName).sort(), ["app.events", "public.items"]);
    assert.equal(byName["public.items"].rows, 3);
    assert.equal(byName["public.items"].exact, true);
    assert.equal(byName["app.events"].rows, 1200);
    assert.ok(byName["app.events"].sizeBytes > 0);

    const read = await api(s, "POST", path(project, "/query"), { body: { sql: "select id, label, price, meta from items where id < 3 order by id" } });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(
      read.body.columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`),
      ["id:int4", "label:text", "price:numeric", "meta:jsonb"],
    );
    assert.deepEqual(read.body.rows[0], ["1", "plain", "1.50", '{"k": 1}']);
    assert.equal(read.body.rows.length, 2);
    assert.equal(read.body.truncated, false);
    assert.equal(read.body.command, "SELECT");

    const many = await api(s, "POST", path(project, "/query"), { body: { sql: "select n, repeat('x', 100) from app.events" } });
    assert.equal(many.status, 200);
    assert.equal(many.body.rows.length, 500);
    assert.equal(many.body.truncated, true);

    for (const sql of [
      "insert into items (label) values ('written')",
      "update items set label = 'changed'",
      "create table sneaky (a int)",
      "select nextval('items_id_seq')",
    ]) {
      const write = await api(s, "POST", path(project, "/query"), { body: { sql } });
      assert.equal(write.status, 422, `${sql}: ${JSON.stringify(write.body)}`);
      assert.equal(write.body.error.code, "DATABASE_QUERY_FAILED");
      assert.match(write.body.error.message, /read-only/);
    }
    const twoStatements = await api(s, "POST", path(project, "/query"), { body: { sql: "commit; delete from items" } });
    assert.equal(twoStatements.status, 422, JSON.stringify(twoStatements.body));
    assert.match(twoStatements.body.error.message, /one statement/);
    const setThenWrite = await api(s, "POST", path(project, "/query"), { body: { sql: "set transaction read write" } });
    assert.equal(setThenWrite.status, 422);
    assert.deepEqual(await rowsOf(project.database, "select count(*)::int as n from items"), [{ n: 3 }], "nothing was written");
    assert.deepEqual(await rowsOf(project.database, "select to_regclass('public.sneaky') as t"), [{ t: null }]);

    const bad = await api(s, "POST", path(project, "/query"), { body: { sql: "selec 1" } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details.sqlstate, "42601");
  });

  test("bad input and other people's projects", async () => {
    const project = await newProject();
    const cases: [string, string, unknown, number, string?][] = [
      ["POST", "/query", { sql: "" }, 400, "VALIDATION_FAILED"],
      ["POST", "/query", { sql: "select 1", extra: true }, 400, "VALIDATION_FAILED"],
      ["POST", "/query", { sql: "select '\u0000'" }, 400, "VALIDATION_FAILED"],
      ["POST", "/branches", { conversationId: "nope" }, 400, "VALIDATION_FAILED"],
      ["POST", "/branches", { conversationId: "cnv_aaaaaaaaaaaaaaaa" }, 404, "NOT_FOUND"],
      ["POST", "/branches/db_aaaaaaaaaaaaaaaa/promote", { confirm: project.name }, 404, "DATABASE_NOT_FOUND"],
      ["POST", `/branches/${project.database.id}/promote`, { confirm: project.name }, 404, "DATABASE_NOT_FOUND"],
      ["DELETE", "/branches/not-an-id", undefined, 400, "VALIDATION_FAILED"],
    ];
    for (const [method, rest, body, status, code] of cases) {
      const answer = await api(s, method, path(project, rest), body === undefined ? {} : { body });
      assert.equal(answer.status, status, `${method} ${rest} ${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      if (code) assert.equal(answer.body.error.code, code);
    }
    assert.equal((await api(s, "POST", path(project, "/query"), { body: { sql: "select 1" }, token: viewer.token })).status, 403);
    assert.equal((await api(s, "POST", path(project, "/branches"), { body: {}, token: viewer.token })).status, 403);
    for (const [method, rest, body] of [
      ["GET", "/tables", undefined],
      ["POST", "/query", { sql: "select 1" }],
      ["GET", "/branches", undefined],
      ["POST", "/branches", {}],
    ] as const) {
      const answer = await api(s, method, path(project, rest), { token: stranger.token, ...(body ? { body } : {}) });
      assert.equal(answer.status, 404, `${method} ${rest} as a stranger`);
    }
    // A project without a database.
    const bare = await api(s, "POST", "/api/v1/projects", { body: { name: `dbdata-${suffix}-bare` } });
    const none = await api(s, "GET", `/api/v1/projects/${bare.body.id}/database/tables`);
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, "DATABASE_NOT_FOUND");
  });
});

describe("project databases on the managed server (PostgreSQL 15, passwords, a unix socket): data through the API only", () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "managed" });
  });
  after(async () => {
    await s?.close();
  });

  const query = async (project: string, sql: string) => {
    const answer = await api(s, "POST", `/api/v1/projects/${project}/database/query`, { body: { sql } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.rows as (string | null)[][];
  };

  test("restore, query, dump, reset, restore again, branch and promote", async () => {
    const created = await api(s, "POST", "/api/v1/projects", { body: { name: "managed-data" } });
    assert.equal(created.status, 201);
    const project = created.body.id as string;
    const database = await api(s, "POST", `/api/v1/projects/${project}/database`);
    assert.equal(database.status, 201, JSON.stringify(database.body));
    assert.equal(database.body.provisioner, "managed");

    const seed = "create table notes (id int primary key, body text);\ninsert into notes values (1, 'one'), (2, E'two\\nlines');\n";
    const loaded = await api(s, "POST", `/api/v1/projects/${project}/database/restore`, { rawBody: seed, headers: { "content-type": "application/sql" } });
    assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
    assert.deepEqual(await query(project, "select id, body from notes order by id"), [
      ["1", "one"],
      ["2", "two\nlines"],
    ]);

    const dump = await api(s, "GET", `/api/v1/projects/${project}/database/dump`);
    assert.equal(dump.status, 200, String(dump.body).slice(0, 300));
    assert.match(dump.body, /Dumped from database version 15\./);
    assert.equal((await api(s, "POST", `/api/v1/projects/${project}/database/reset`, { body: { confirm: "managed-data" } })).status, 200);
    assert.deepEqual(await query(project, "select count(*) from pg_tables where schemaname = 'public'"), [["0"]]);
    const restored = await api(s, "POST", `/api/v1/projects/${project}/database/restore`, {
      rawBody: dump.body,
      headers: { "content-type": "application/sql" },
    });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.deepEqual(await query(project, "select id, body from notes order by id"), [
      ["1", "one"],
      ["2", "two\nlines"],
    ]);

    const branch = await api(s, "POST", `/api/v1/projects/${project}/database/branches`);
    assert.equal(branch.status, 201, JSON.stringify(branch.body));
    await api(s, "POST", `/api/v1/projects/${project}/database/restore`, {
      rawBody: "insert into notes values (3, 'after the branch');",
      headers: { "content-type": "application/sql" },
    });
    const promoted = await api(s, "POST", `/api/v1/projects/${project}/database/branches/${branch.body.id}/promote`, { body: { confirm: "managed-data" } });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.deepEqual(await query(project, "select id from notes order by id"), [["1"], ["2"]], "the branch was copied before the third note");
    assert.deepEqual(await query(project, "select current_user = current_database()"), [["t"]], "as the branch's own role");
  });
});
