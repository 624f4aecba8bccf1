// The SQL both provisioners (managed, server) run on their PostgreSQL server, as its admin.
// Every operation converges when repeated or raced: work on one database name is serialised
// by an advisory lock (all admin sessions sit in the same maintenance database), and the
// "already exists" errors of a racer that holds no lock (another tool, an older Outpost) are
// taken as success. Names are checked identifiers and always quoted by pg.escapeIdentifier;
// passwords travel as SCRAM verifiers, so no server log ever holds one in clear.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import type { DatabaseFacts, DatabaseRef, EnsureOptions } from "./provisioner.ts";

/** How the SQL reaches the server: admin sessions on the maintenance database, or on another. */
export interface Admin {
  /** One admin session on the maintenance database for the length of `work`. */
  withClient<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T>;
  /** A fresh admin connection to `database` (the caller ends it). */
  connectTo(database: string): Promise<pg.Client>;
}

/** Admin sessions from a connection config per database (the maintenance one pooled). */
export class AdminConnections implements Admin {
  readonly #pool: pg.Pool;

  constructor(
    private readonly configFor: (database: string | null) => pg.ClientConfig,
    maxSessions = 4,
  ) {
    this.#pool = new pg.Pool({ ...configFor(null), max: maxSessions, idleTimeoutMillis: 10_000, application_name: "outpost-provisioner" });
    // An idle session the server ended (a restart) must not crash the control plane.
    this.#pool.on("error", () => {});
  }

  async withClient<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      // A session left mid-way (an aborted statement, a lock we could not release) is not reused.
      if (!(error as { code?: string }).code) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async connectTo(database: string): Promise<pg.Client> {
    const client = new pg.Client({ ...this.configFor(database), application_name: "outpost-provisioner" });
    client.on("error", () => {});
    await client.connect();
    return client;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}

const RESERVED = new Set(["postgres", "template0", "template1", "public", "none", "current_user", "session_user", "current_role"]);

/** A name Outpost made (domain/databases.ts): lower-case identifier, ≤ 63 bytes, nothing reserved. */
export function assertProjectIdentifier(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name) || name.startsWith("pg_") || RESERVED.has(name)) {
    throw new Error(`'${name}' is not a name a project database or role may have`);
  }
}

function assertRef(ref: DatabaseRef): void {
  assertProjectIdentifier(ref.name);
  assertProjectIdentifier(ref.role);
}

function assertOptions(options: EnsureOptions): void {
  if (!Number.isInteger(options.connectionLimit) || options.connectionLimit < -1) throw new Error("connectionLimit must be an integer ≥ -1");
  if (!Number.isInteger(options.statementTimeoutMs) || options.statementTimeoutMs < 0) throw new Error("statementTimeoutMs must be an integer ≥ 0");
}

const errorCode = (error: unknown) => (error as { code?: string }).code;
const DUPLICATE_DATABASE = "42P04";
const DUPLICATE_OBJECT = "42710";
const OBJECT_IN_USE = "55006";
/** Concurrent catalogue updates (two GRANTs on one database at once) fail with this. */
const TUPLE_CONCURRENTLY_UPDATED = "XX000";

const id = (name: string) => pg.escapeIdentifier(name);

/** The form `ALTER ROLE … PASSWORD` takes: a SCRAM-SHA-256 verifier made here (as psql's
 *  \password does), or, for a password SASLprep could change, the clear text for the server to hash. */
export function passwordLiteral(password: string): string {
  if (!/^[\x20-\x7e]*$/.test(password)) return pg.escapeLiteral(password);
  const salt = randomBytes(16);
  const iterations = 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return pg.escapeLiteral(`SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`);
}

/** Holds the advisory lock of `name` (per server: every admin session is in one database) for `work`. */
async function locked<T>(admin: Admin, name: string, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  return admin.withClient(async (client) => {
    await client.query("select pg_advisory_lock(19019, hashtext($1))", [name]);
    try {
      return await work(client);
    } finally {
      await client.query("select pg_advisory_unlock(19019, hashtext($1))", [name]);
    }
  });
}

interface AdminFacts {
  superuser: boolean;
}

async function adminFacts(client: pg.ClientBase): Promise<AdminFacts> {
  const { rows } = await client.query<{ rolsuper: boolean }>("select rolsuper from pg_roles where rolname = current_user");
  return { superuser: rows[0]?.rolsuper ?? false };
}

/** The role with its password and limits, nothing more (no superuser, createdb, createrole,
 *  replication, bypassrls), checked after the change, not assumed. */
async function ensureRole(client: pg.ClientBase, admin: AdminFacts, role: string, options: EnsureOptions): Promise<void> {
  const existing = await client.query<{ rolsuper: boolean; me: boolean }>("select rolsuper, rolname = current_user as me from pg_roles where rolname = $1", [
    role,
  ]);
  const found = existing.rows[0];
  // Never take over (and demote) the admin itself or another superuser that happens to bear the name.
  if (found?.me || found?.rolsuper) throw new Error(`role ${role} exists on the server as a superuser or the admin itself; refusing to use it for a project`);
  if (!found) {
    try {
      await client.query(`create role ${id(role)} login`);
    } catch (error) {
      if (errorCode(error) !== DUPLICATE_OBJECT) throw error;
    }
  }
  // Only a superuser may even mention these attributes; CREATE ROLE leaves them off anyway.
  const superOnly = admin.superuser ? " nosuperuser noreplication nobypassrls" : "";
  await client.query(
    `alter role ${id(role)} with login inherit nocreatedb nocreaterole${superOnly} connection limit ${options.connectionLimit} password ${passwordLiteral(options.password)}`,
  );
  await client.query(`alter role ${id(role)} set statement_timeout = ${options.statementTimeoutMs}`);
  // A non-superuser admin (CREATEROLE) must be a member to own databases for the role.
  if (!admin.superuser) await client.query(`grant ${id(role)} to current_user`);
  const check = await client.query<{ bad: boolean }>(
    "select rolsuper or rolcreatedb or rolcreaterole or rolreplication or rolbypassrls as bad from pg_roles where rolname = $1",
    [role],
  );
  if (check.rows[0]?.bad !== false) throw new Error(`role ${role} still holds rights a project must not have`);
}

/** No one but the owner may connect; the owner role may connect and make temporary tables. */
async function restrictConnect(client: pg.ClientBase, ref: DatabaseRef): Promise<void> {
  await client.query(`revoke all on database ${id(ref.name)} from public`);
  await client.query(`grant connect, temporary on database ${id(ref.name)} to ${id(ref.role)}`);
}

async function databaseOwner(client: pg.ClientBase, name: string): Promise<string | null> {
  const { rows } = await client.query<{ owner: string }>("select pg_get_userbyid(datdba) as owner from pg_database where datname = $1", [name]);
  return rows[0]?.owner ?? null;
}

/** Retries `work` when a racer (without our lock) updated the same catalogue row at the same moment. */
async function convergent<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const racing = errorCode(error) === TUPLE_CONCURRENTLY_UPDATED && /concurrently/.test((error as Error).message);
      if (!racing || attempt >= 3) throw error;
    }
  }
}

/** Role + database owned by it + CONNECT for it alone; idempotent, and two racing calls converge. */
export async function ensureDatabase(admin: Admin, ref: DatabaseRef, options: EnsureOptions): Promise<void> {
  assertRef(ref);
  assertOptions(options);
  await convergent(() =>
    locked(admin, ref.name, async (client) => {
      const facts = await adminFacts(client);
      await ensureRole(client, facts, ref.role, options);
      options.signal?.throwIfAborted();
      const owner = await databaseOwner(client, ref.name);
      if (owner === null) {
        try {
          // CREATE DATABASE cannot run in a transaction: this is its own statement.
          await client.query(`create database ${id(ref.name)} owner ${id(ref.role)}`);
        } catch (error) {
          if (errorCode(error) !== DUPLICATE_DATABASE) throw error;
        }
      }
      // A database left by a crash (or a branch half-made) may have another owner: the role's it is.
      if (owner !== ref.role) await client.query(`alter database ${id(ref.name)} owner to ${id(ref.role)}`);
      await restrictConnect(client, ref);
    }),
  );
}

/** What is there now: the database, its size, the server's version and extensions. */
export async function inspectDatabase(admin: Admin, ref: DatabaseRef): Promise<DatabaseFacts> {
  assertRef(ref);
  return admin.withClient(async (client) => {
    const server = await client.query<{ version: string }>("select current_setting('server_version') as version");
    const extensions = await client.query<{ name: string; version: string | null }>(
      "select name, default_version as version from pg_available_extensions order by name",
    );
    const found = await client.query<{ oid: number }>("select oid from pg_database where datname = $1", [ref.name]);
    let sizeBytes: number | null = null;
    if (found.rows[0]) {
      // A non-superuser admin may lack the right to measure it; the size is then unknown, not an error.
      sizeBytes = await client
        .query<{ size: string }>("select pg_database_size($1::oid)::text as size", [found.rows[0].oid])
        .then((result) => Number(result.rows[0]?.size ?? Number.NaN))
        .catch(() => null);
    }
    return {
      exists: found.rows.length > 0,
      sizeBytes: sizeBytes !== null && Number.isFinite(sizeBytes) ? sizeBytes : null,
      // "15.20 (Debian 15.20-0+deb12u1)" → "15.20"
      serverVersion: (server.rows[0]?.version ?? "").split(" ")[0] ?? "",
      availableExtensions: extensions.rows.map((row) => ({ name: row.name, version: row.version })),
    };
  });
}

export async function setRolePassword(admin: Admin, ref: DatabaseRef, password: string): Promise<void> {
  assertRef(ref);
  await locked(admin, ref.name, async (client) => {
    await client.query(`alter role ${id(ref.role)} with password ${passwordLiteral(password)}`);
  });
}

/** The database (its sessions ended: WITH (FORCE), PostgreSQL 13+) and its role; idempotent. */
export async function dropDatabase(admin: Admin, ref: DatabaseRef): Promise<void> {
  assertRef(ref);
  await locked(admin, ref.name, async (client) => {
    const existing = await client.query<{ rolsuper: boolean; me: boolean }>("select rolsuper, rolname = current_user as me from pg_roles where rolname = $1", [
      ref.role,
    ]);
    if (existing.rows[0]?.me || existing.rows[0]?.rolsuper) throw new Error(`role ${ref.role} is a superuser or the admin itself; refusing to drop it`);
    await client.query(`drop database if exists ${id(ref.name)} with (force)`);
    await client.query(`drop role if exists ${id(ref.role)}`);
  });
}

/** CREATE DATABASE … TEMPLATE fails while the source has sessions: they are ended just before
 *  each try (a sandbox's client sees one dropped connection), a few times if one reconnects. */
const BRANCH_ATTEMPTS = 6;

/** A copy of `source` as `target`, owned (with everything in it) by target's own role; idempotent. */
export async function branchDatabase(admin: Admin, source: DatabaseRef, target: DatabaseRef, options: EnsureOptions): Promise<void> {
  assertRef(source);
  assertRef(target);
  assertOptions(options);
  if (source.name === target.name || source.role === target.role) throw new Error("a branch needs a database and a role of its own");
  await locked(admin, target.name, async (client) => {
    const facts = await adminFacts(client);
    await ensureRole(client, facts, target.role, options);
    if ((await databaseOwner(client, target.name)) === null) {
      for (let attempt = 1; ; attempt++) {
        options.signal?.throwIfAborted();
        await client.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [source.name]);
        try {
          await client.query(`create database ${id(target.name)} template ${id(source.name)} owner ${id(target.role)}`);
          break;
        } catch (error) {
          if (errorCode(error) === DUPLICATE_DATABASE) break;
          if (errorCode(error) !== OBJECT_IN_USE || attempt >= BRANCH_ATTEMPTS) throw error;
          // A client reconnected between the two statements; give it a moment less each time to win.
          await delay(50 * attempt);
        }
      }
    }
    await client.query(`alter database ${id(target.name)} owner to ${id(target.role)}`);
    // Inside the copy, what the source's role owned becomes the target role's. REASSIGN OWNED
    // also moves shared objects (the source database itself!): they are given back in the
    // same transaction, so no one ever sees the source owned by the branch's role.
    const inside = await admin.connectTo(target.name);
    try {
      await inside.query("begin");
      const owned = await inside.query<{ datname: string }>("select datname from pg_database where datdba = (select oid from pg_roles where rolname = $1)", [
        source.role,
      ]);
      await inside.query(`reassign owned by ${id(source.role)} to ${id(target.role)}`);
      for (const { datname } of owned.rows) await inside.query(`alter database ${id(datname)} owner to ${id(source.role)}`);
      await inside.query("commit");
    } catch (error) {
      await inside.query("rollback").catch(() => {});
      throw error;
    } finally {
      await inside.end().catch(() => {});
    }
    await restrictConnect(client, target);
  });
}

/** Closes databases no project owns (managed: `postgres`, `template1`) to everyone but superusers. */
export async function revokePublicConnect(admin: Admin, databases: string[]): Promise<void> {
  await admin.withClient(async (client) => {
    for (const name of databases) await client.query(`revoke connect, temporary on database ${id(name)} from public`);
  });
}
