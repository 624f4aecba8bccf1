// The seam between project databases and the PostgreSQL servers that hold them. A
// provisioner makes one database and one role per project on its server, idempotently
// (every call converges: a crash half-way is finished by the next call), and never trusts a
// record without looking: `inspect` says whether the database is really there. Chosen by
// configuration (OUTPOST_DATABASE_PROVISIONER): `managed` (a PostgreSQL server Outpost runs
// for project data), `server` (an existing server given by an admin URL), `kubeblocks` and
// `cloudnative-pg` (a whole cluster per project, waited for: kubernetes/). Where a database
// is reached may differ per database (a cluster each), hence endpoint(ref) and
// toolConnection(ref), which may have to look it up.
// Types only: no behaviour lives here.

/** What identifies a project's database on its server; names are made by domain/databases.ts. */
export interface DatabaseRef {
  /** The database's name on the server (`p_<project name>_<6>`), also its owner role's. */
  name: string;
  /** The role that owns it and that the sandbox logs in as. */
  role: string;
}

export interface EnsureOptions {
  password: string;
  /** Connections the role may hold at once. */
  connectionLimit: number;
  /** The role's default statement_timeout (ms; 0 = none). */
  statementTimeoutMs: number;
  signal?: AbortSignal;
}

export interface DatabaseFacts {
  exists: boolean;
  /** pg_database_size, when it exists. */
  sizeBytes: number | null;
  /** server_version, e.g. "15.18". */
  serverVersion: string;
  /** Extensions the server can install (pg_available_extensions), name → default version. */
  availableExtensions: { name: string; version: string | null }[];
}

/** libpq settings (pg_dump, psql, node-postgres) as a database's owner role. */
export interface ToolConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
}

/** How the control plane reaches the server (to bridge a sandbox's 127.0.0.1:5432 to it). */
export type ServerEndpoint = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export interface Provisioner {
  readonly name: "managed" | "server" | "kubeblocks" | "cloudnative-pg";
  /** Where sandboxes' connections to this database are carried to (the bridge dials this). */
  endpoint(ref: DatabaseRef): ServerEndpoint | Promise<ServerEndpoint>;
  /** Role (with this password, LOGIN, no superuser/createdb/createrole/replication, the
   *  limits) and database owned by it, CONNECT revoked from PUBLIC; idempotent. */
  ensure(ref: DatabaseRef, options: EnsureOptions): Promise<void>;
  /** What is really there now. */
  inspect(ref: DatabaseRef, signal?: AbortSignal): Promise<DatabaseFacts>;
  setPassword(ref: DatabaseRef, password: string): Promise<void>;
  /** Drops the database (its connections ended first) and its role; idempotent. */
  drop(ref: DatabaseRef): Promise<void>;
  /** A copy of `source` as `target` (CREATE DATABASE … TEMPLATE, after ending the source's
   *  connections for the moment it takes), owned by target.role; idempotent. */
  branch(source: DatabaseRef, target: DatabaseRef, options: EnsureOptions): Promise<void>;
  /** libpq settings for the host-side tools (pg_dump, psql) acting as the database's owner role. */
  toolConnection(ref: DatabaseRef, password: string): ToolConnection | Promise<ToolConnection>;
  close(): Promise<void>;
}
