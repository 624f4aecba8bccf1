// The two provisioners against real servers: `managed` (the PostgreSQL 15 server Outpost runs
// for project data, in a temp data dir, started once for the file; scram-sha-256 on its unix
// socket) and `server` (the machine's PostgreSQL at 127.0.0.1:5432, trust auth: passwords are
// only checked on the managed one). Both are made by start-up's createProvisioner from settings,
// and connections go where endpoint() says, as the sandbox bridge's do.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { loadSettings } from "../../src/config/settings.ts";
import { branchName, databaseName } from "../../src/domain/databases.ts";
import type { StartupError } from "../../src/domain/errors.ts";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import type { DatabaseRef, EnsureOptions, ServerEndpoint, ToolConnection } from "../../src/services/databases/provisioner.ts";
import { type StartableProvisioner as AnyProvisioner, createProvisioner } from "../../src/startup/database-provisioner.ts";
import { MACHINE_PG, tempDir } from "../helpers/server.ts";

/** managed and server have one server for every database: endpoint and toolConnection need no lookup. */
type StartableProvisioner = { endpoint(): ServerEndpoint; toolConnection(ref: DatabaseRef, password: string): ToolConnection } & AnyProvisioner;
const oneServer = (provisioner: AnyProvisioner | null) => provisioner as StartableProvisioner | null;

const newRef = (label: string): DatabaseRef => {
  const name = databaseName(`provtest-${label}`, randomLowerAlnum(6));
  return { name, role: name };
};

const options = (password: string, extra: Partial<EnsureOptions> = {}): EnsureOptions => ({
  password,
  connectionLimit: 3,
  statementTimeoutMs: 1500,
  ...extra,
});

/** A client as `ref`'s role through the provisioner's endpoint (what the bridge dials). */
function clientVia(endpoint: ServerEndpoint, user: string, password: string, database: string): pg.Client {
  const address = endpoint.kind === "unix" ? { host: dirname(endpoint.path), port: Number(endpoint.path.split(".").pop()) } : endpoint;
  const client = new pg.Client({ host: address.host, port: address.port, user, password, database });
  client.on("error", () => {});
  return client;
}

async function sqlAs(endpoint: ServerEndpoint, user: string, password: string, database: string, sql: string): Promise<pg.QueryResult> {
  const client = clientVia(endpoint, user, password, database);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The error code a promise rejects with (assert.rejects with a code, and the code shown on failure). */
async function failsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; message?: string }) => {
    assert.equal(error.code, code, `expected SQLSTATE ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

interface Setup {
  provisioner: StartableProvisioner;
  /** Admin SQL behind the provisioner's back. */
  admin(sql: string, values?: unknown[]): Promise<pg.QueryResult>;
  close(): Promise<void>;
}

async function managedSetup(): Promise<Setup> {
  const dataDir = tempDir("outpost-prov-");
  // As root the server runs as the database account, which must pass through the data dir.
  chmodSync(dataDir, 0o711);
  const provisioner = oneServer(createProvisioner(loadSettings({}, { dataDir, logLevel: "silent" })));
  assert.ok(provisioner && provisioner.name === "managed", "managed is the default provisioner");
  await provisioner.start();
  const endpoint = provisioner.endpoint();
  assert.equal(endpoint.kind, "unix");
  const password = readFileSync(join(dataDir, "projects-postgres", "password"), "utf8").trim();
  return {
    provisioner,
    admin: async (sql, values) => {
      const client = clientVia(endpoint, "postgres", password, "postgres");
      await client.connect();
      try {
        return await client.query(sql, values);
      } finally {
        await client.end();
      }
    },
    async close() {
      await provisioner.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function serverSetup(): Promise<Setup> {
  const dataDir = tempDir("outpost-prov-");
  const provisioner = oneServer(
    createProvisioner(loadSettings({ OUTPOST_DATABASE_PROVISIONER: "server", OUTPOST_DATABASE_ADMIN_URL: MACHINE_PG }, { dataDir, logLevel: "silent" })),
  );
  assert.ok(provisioner && provisioner.name === "server");
  await provisioner.start();
  return {
    provisioner,
    admin: async (sql, values) => {
      const client = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await client.connect();
      try {
        return await client.query(sql, values);
      } finally {
        await client.end();
      }
    },
    async close() {
      await provisioner.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe("choosing a provisioner", () => {
  test("by OUTPOST_DATABASE_PROVISIONER: none gives none; server needs its admin URL; a missing OUTPOST_PROJECT_PG_BIN says so", async () => {
    const dataDir = tempDir("outpost-prov-");
    try {
      assert.equal(createProvisioner(loadSettings({ OUTPOST_DATABASE_PROVISIONER: "none" }, { dataDir })), null);
      assert.throws(() => loadSettings({ OUTPOST_DATABASE_PROVISIONER: "server" }, { dataDir }), /databaseAdminUrl/);
      assert.throws(() => loadSettings({ OUTPOST_DATABASE_PROVISIONER: "elsewhere" }, { dataDir }), /databaseProvisioner/);
      assert.throws(
        () => createProvisioner(loadSettings({ OUTPOST_PROJECT_PG_BIN: join(dataDir, "no-such-bin") }, { dataDir })),
        (error: StartupError) => error.name === "StartupError" && /initdb is missing/.test(error.message) && /OUTPOST_PROJECT_PG_BIN/.test(error.fix),
      );
      const server = oneServer(
        createProvisioner(
          loadSettings({ OUTPOST_DATABASE_PROVISIONER: "server", OUTPOST_DATABASE_ADMIN_URL: "postgres://admin@db.example:6543/x" }, { dataDir }),
        ),
      );
      assert.deepEqual(server?.endpoint(), { kind: "tcp", host: "db.example", port: 6543 });
      const overSocket = oneServer(
        createProvisioner(
          loadSettings({ OUTPOST_DATABASE_PROVISIONER: "server", OUTPOST_DATABASE_ADMIN_URL: "postgresql://admin@/x?host=/run/postgresql" }, { dataDir }),
        ),
      );
      assert.deepEqual(overSocket?.endpoint(), { kind: "unix", path: "/run/postgresql/.s.PGSQL.5432" });
      await Promise.all([server?.close(), overSocket?.close()]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

for (const kind of ["managed", "server"] as const) {
  describe(`${kind} provisioner`, () => {
    let setup: Setup;
    let p: StartableProvisioner;
    const made: DatabaseRef[] = [];
    const ref = (label: string) => {
      const r = newRef(label);
      made.push(r);
      return r;
    };
    const login = (r: DatabaseRef, password: string, database = r.name) => clientVia(p.endpoint(), r.role, password, database);

    before(async () => {
      setup = kind === "managed" ? await managedSetup() : await serverSetup();
      p = setup.provisioner;
    });
    after(async () => {
      // The machine's server outlives the test: leave nothing on it.
      for (const r of made) await p.drop(r).catch(() => {});
      await setup.close();
    });

    test("ensure twice (and twice at once) converges to one database owned by its role, CONNECT for it alone", async () => {
      const a = ref("a");
      await Promise.all([p.ensure(a, options("first-pw")), p.ensure(a, options("first-pw"))]);
      await p.ensure(a, options("first-pw"));
      const facts = await p.inspect(a);
      assert.equal(facts.exists, true);
      assert.ok((facts.sizeBytes ?? 0) > 0, "the size is measured");
      assert.match(facts.serverVersion, kind === "managed" ? /^15\.18$/ : /^\d+\.\d+$/);
      assert.ok(facts.availableExtensions.some((extension) => extension.name === "plpgsql"));
      const owner = await setup.admin("select pg_get_userbyid(datdba) as owner, datacl::text as acl from pg_database where datname = $1", [a.name]);
      assert.equal(owner.rows[0].owner, a.role);
      assert.doesNotMatch(owner.rows[0].acl, /(^|[{,])=/, "no grant to PUBLIC");
      const result = await sqlAs(p.endpoint(), a.role, "first-pw", a.name, "select current_user as me, current_database() as db");
      assert.deepEqual(result.rows[0], { me: a.role, db: a.name });
    });

    test("the role has no rights beyond its database: no superuser, no CREATE DATABASE or ROLE", async () => {
      const a = ref("rights");
      await p.ensure(a, options("rights-pw"));
      const client = login(a, "rights-pw");
      await client.connect();
      try {
        const role = await client.query("select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls from pg_roles where rolname = current_user");
        assert.deepEqual(role.rows[0], { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false });
        await failsWith(client.query("create database provtest_should_not_exist"), "42501");
        await failsWith(client.query("create role provtest_should_not_exist"), "42501");
        // Its own database is its own: tables, and the public schema's owner is the database's.
        await client.query("create table things (id int primary key)");
      } finally {
        await client.end();
      }
    });

    test("a statement_timeout default is set and cancels long statements", async () => {
      const a = ref("timeout");
      await p.ensure(a, options("timeout-pw", { statementTimeoutMs: 1500 }));
      const client = login(a, "timeout-pw");
      await client.connect();
      try {
        assert.equal((await client.query("show statement_timeout")).rows[0].statement_timeout, "1500ms");
        await failsWith(client.query("select pg_sleep(30)"), "57014");
      } finally {
        await client.end();
      }
    });

    test("the connection limit is enforced", async () => {
      const a = ref("limit");
      await p.ensure(a, options("limit-pw", { connectionLimit: 2 }));
      const open = [login(a, "limit-pw"), login(a, "limit-pw")];
      try {
        for (const client of open) await client.connect();
        await failsWith(login(a, "limit-pw").connect(), "53300");
      } finally {
        for (const client of open) await client.end().catch(() => {});
      }
    });

    test("project A's role cannot connect to project B's database", async () => {
      const a = ref("iso-a");
      const b = ref("iso-b");
      await p.ensure(a, options("a-pw"));
      await p.ensure(b, options("b-pw"));
      await failsWith(login(a, "a-pw", b.name).connect(), "42501");
      await failsWith(login(b, "b-pw", a.name).connect(), "42501");
      if (kind === "managed") {
        // Nor to the databases no project owns.
        await failsWith(login(a, "a-pw", "postgres").connect(), "42501");
        await failsWith(login(a, "a-pw", "template1").connect(), "42501");
      }
    });

    if (kind === "managed") {
      test("logins use the password (scram-sha-256): a wrong one fails, setPassword replaces it", async () => {
        const a = ref("pw");
        await p.ensure(a, options("right-pw"));
        const stored = await setup.admin("select rolpassword from pg_authid where rolname = $1", [a.role]);
        assert.match(stored.rows[0].rolpassword, /^SCRAM-SHA-256\$4096:/);
        await failsWith(login(a, "wrong-pw").connect(), "28P01");
        await sqlAs(p.endpoint(), a.role, "right-pw", a.name, "select 1");
        await p.setPassword(a, "new-pw");
        await failsWith(login(a, "right-pw").connect(), "28P01");
        await sqlAs(p.endpoint(), a.role, "new-pw", a.name, "select 1");
        // ensure sets the password it is given (a crash between the two converges too).
        await p.ensure(a, options("right-pw"));
        await sqlAs(p.endpoint(), a.role, "right-pw", a.name, "select 1");
      });

      test("toolConnection reaches the database as its role (what pg_dump and psql are given)", async () => {
        const a = ref("tool");
        await p.ensure(a, options("tool-pw"));
        const tool = p.toolConnection(a, "tool-pw");
        const client = new pg.Client(tool);
        await client.connect();
        assert.equal((await client.query("select current_user as me")).rows[0].me, a.role);
        await client.end();
      });
    }

    test("a database dropped behind its back is reported missing; ensure makes it again", async () => {
      const a = ref("missing");
      await p.ensure(a, options("missing-pw"));
      await setup.admin(`drop database ${pg.escapeIdentifier(a.name)} with (force)`);
      assert.equal((await p.inspect(a)).exists, false);
      assert.equal((await p.inspect(a)).sizeBytes, null);
      await p.ensure(a, options("missing-pw"));
      assert.equal((await p.inspect(a)).exists, true);
      await sqlAs(p.endpoint(), a.role, "missing-pw", a.name, "select 1");
    });

    test("a branch copies the data (even with the source in use), is owned by its own role, and diverges", async () => {
      const source = ref("branch-src");
      await p.ensure(source, options("src-pw"));
      await sqlAs(p.endpoint(), source.role, "src-pw", source.name, "create table items (name text); insert into items values ('one'), ('two')");
      const name = branchName(source.name, randomLowerAlnum(6));
      const target = { name, role: name };
      made.push(target);
      // A sandbox's session is open on the source: the branch ends it for the moment of the copy.
      const busy = login(source, "src-pw");
      await busy.connect();
      const ended = new Promise((resolve) => busy.once("end", resolve));
      await p.branch(source, target, options("branch-pw"));
      await ended;
      await p.branch(source, target, options("branch-pw")); // idempotent
      const copied = await sqlAs(p.endpoint(), target.role, "branch-pw", target.name, "select name from items order by name");
      assert.deepEqual(
        copied.rows.map((row) => row.name),
        ["one", "two"],
      );
      // Everything inside is the branch role's; the source stays its own role's.
      const owners = await sqlAs(p.endpoint(), target.role, "branch-pw", target.name, "select tableowner from pg_tables where tablename = 'items'");
      assert.equal(owners.rows[0].tableowner, target.role);
      const dbOwners = await setup.admin("select datname, pg_get_userbyid(datdba) as owner from pg_database where datname = any($1) order by datname", [
        [source.name, target.name],
      ]);
      assert.deepEqual(Object.fromEntries(dbOwners.rows.map((row) => [row.datname, row.owner])), { [source.name]: source.role, [target.name]: target.role });
      await failsWith(login(source, "src-pw", target.name).connect(), "42501");
      // Diverges both ways.
      await sqlAs(p.endpoint(), target.role, "branch-pw", target.name, "insert into items values ('branch only'); delete from items where name = 'one'");
      await sqlAs(p.endpoint(), source.role, "src-pw", source.name, "insert into items values ('source only')");
      const inSource = await sqlAs(p.endpoint(), source.role, "src-pw", source.name, "select name from items order by name");
      const inBranch = await sqlAs(p.endpoint(), target.role, "branch-pw", target.name, "select name from items order by name");
      assert.deepEqual(
        inSource.rows.map((row) => row.name),
        ["one", "source only", "two"],
      );
      assert.deepEqual(
        inBranch.rows.map((row) => row.name),
        ["branch only", "two"],
      );
    });

    test("drop ends sessions, removes database and role, and is idempotent", async () => {
      const a = ref("drop");
      await p.ensure(a, options("drop-pw"));
      const open = login(a, "drop-pw");
      await open.connect();
      await p.drop(a);
      await p.drop(a);
      await open.end().catch(() => {});
      assert.equal((await p.inspect(a)).exists, false);
      assert.equal((await setup.admin("select 1 from pg_roles where rolname = $1", [a.role])).rowCount, 0);
    });

    test("names that are not a project's are refused; the admin role is never touched", async () => {
      await assert.rejects(p.ensure({ name: "provtest_x", role: "postgres" }, options("x")), /not a name/);
      await assert.rejects(p.ensure({ name: 'bad"name', role: "provtest_x" }, options("x")), /not a name/);
      await assert.rejects(p.drop({ name: "template1", role: "provtest_x" }), /not a name/);
      const admin = await setup.admin("select rolsuper from pg_roles where rolname = 'postgres'");
      assert.equal(admin.rows[0].rolsuper, true);
    });
  });
}
