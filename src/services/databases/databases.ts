// Project databases: made with a project's first sandbox (the `database` stage) or on
// request, told to the project's sandboxes, and looked after through the API. A row says what
// Outpost meant to make; the provisioner's server says what is there, and is asked before a
// row is believed: a database dropped behind Outpost's back shows `missing` (never silently
// made again), with the way to recreate it. Every change of state is an event. Work on one
// project's database is serialised in this process (a sandbox start racing a reset).
//
// Who may do what (domain/authorization.ts's actions): see it, viewer; read its password
// (?reveal=true), editor, like the project's env values; create, reset the password or reset
// it (typed confirmation; an editor can empty it from a sandbox anyway), editor; delete it,
// owner. Databases kept after their project are an admin's to list, drop or attach.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { SecretBox } from "../../crypto/secrets.ts";
import { type Principal, requireAdmin } from "../../domain/authorization.ts";
import { DATABASE_HOST, DATABASE_PORT, type DatabaseLogin, databaseEnv, databaseName } from "../../domain/databases.ts";
import { OutpostError } from "../../domain/errors.ts";
import { newId, randomLowerAlnum } from "../../domain/ids.ts";
import { decodeCursor, encodeCursor, type Page } from "../../domain/pagination.ts";
import { type Queryable, withTransaction } from "../../store/database.ts";
import {
  attachDatabase,
  type DatabaseRow,
  type DatabaseStatus,
  findConversationBranch,
  findDatabaseById,
  findMainDatabase,
  findSandboxDatabase,
  insertDatabase,
  listKeptDatabases,
  listProjectDatabases,
  setDatabasePassword,
  setDatabaseStatus,
} from "../../store/databases.ts";
import { appendEvent } from "../../store/events.ts";
import { findProjectById, type ProjectRow, updateProject } from "../../store/projects.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { resolveProject } from "../project-access.ts";
import type { DatabaseFacts, DatabaseRef, Provisioner, ServerEndpoint } from "./provisioner.ts";

/** Connections a project's role may hold at once (a dev server's pool plus a few psql). */
export const DEFAULT_CONNECTION_LIMIT = 20;
/** The role's default statement_timeout: a runaway query ends; a long migration can SET its own. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5 * 60_000;

/** The context a password is sealed under: a sealed password copied onto another row does not open. */
export const databasePasswordContext = (databaseId: string) => `database:${databaseId}`;

/** 24 random bytes, base64url: 32 characters that need no quoting in a URL or a shell. */
export const newDatabasePassword = () => randomBytes(24).toString("base64url");

export interface DatabaseView {
  id: string;
  projectId: string | null;
  projectName: string;
  status: Exclude<DatabaseStatus, "dropped">;
  provisioner: string;
  name: string;
  role: string;
  /** As the sandbox sees it. */
  host: string;
  port: number;
  /** Null when the server was not asked (another provisioner's) or it is not there. */
  sizeBytes: number | null;
  serverVersion: string | null;
  extensions: { name: string; version: string | null }[];
  /** The password is `****` unless revealed. */
  connectionString: string;
  parentId: string | null;
  error: string | null;
  createdAt: Date;
}

/** What deleting a project does with its databases. */
export type DatabaseChoice = "keep" | "drop";

export class DatabaseService {
  readonly #queue = new KeyedQueue();
  readonly #connectionLimit: number;
  readonly #statementTimeoutMs: number;
  readonly #log: (message: string) => void;

  constructor(
    private readonly pool: pg.Pool,
    private readonly box: SecretBox,
    /** Null: this server makes no databases (OUTPOST_DATABASE_PROVISIONER=none). */
    readonly provisioner: Provisioner | null,
    options: { connectionLimit?: number; statementTimeoutMs?: number; log?: (message: string) => void } = {},
  ) {
    this.#connectionLimit = options.connectionLimit ?? DEFAULT_CONNECTION_LIMIT;
    this.#statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    this.#log = options.log ?? (() => {});
  }

  // ---- for sandboxes (startup/database-stage.ts) ----

  /**
   * The `database` stage: the project's database made (or a half-made one finished), or,
   * when it was removed outside Outpost, reported `missing` without making it again; the
   * sandbox starts either way. Resolves with the stage's one-line summary.
   */
  async ensureForProject(projectId: string, progress: (message: string) => void, signal: AbortSignal): Promise<string> {
    return this.#queue.run(projectId, async () => {
      const project = await findProjectById(this.pool, projectId);
      if (!project) return "none: the project is gone";
      if (project.database !== "postgres") return "none: the project has no database (its `database` setting is none)";
      const provisioner = this.provisioner;
      if (!provisioner) return "none: this server makes no databases (OUTPOST_DATABASE_PROVISIONER=none)";
      let row = await findMainDatabase(this.pool, projectId);
      if (!row) {
        progress("creating the project's database");
        row = await this.#insert(project, project.ownerId);
      }
      if (row.provisioner !== provisioner.name) return `unavailable: ${otherProvisioner(row, provisioner).message}`;
      if (row.status === "ready" || row.status === "missing") {
        const facts = await this.#inspect(row, signal);
        row = await this.#reconcile(row, facts, project.ownerId);
        if (row.status === "missing") {
          return `missing: database ${row.name} is gone from its server; recreate it with \`outpost db ${project.name} reset\``;
        }
        // There: its role, password and limits are put back as Outpost stored them (a crash
        // between storing a new password and setting it converges here).
        await this.#ensure(row, signal);
        return summary(row, facts);
      }
      progress(row.status === "failed" ? "trying the project's database again" : "finishing the project's database");
      row = await this.#provision(row, project.ownerId, signal);
      return summary(row, await this.#inspect(row, signal));
    });
  }

  /** What a sandbox of the project connects with and where the bridge carries it (null: nothing). */
  async forSandbox(projectId: string): Promise<{ login: DatabaseLogin; endpoint: ServerEndpoint } | null> {
    const provisioner = this.provisioner;
    if (!provisioner) return null;
    const row = await findSandboxDatabase(this.pool, projectId);
    if (!row || row.provisioner !== provisioner.name) return null;
    return { login: this.#login(row), endpoint: await provisioner.endpoint(ref_(row)) };
  }

  /** The login of the branch made for a conversation (its turns get it instead of the main one), or null. */
  async forConversation(conversationId: string): Promise<DatabaseLogin | null> {
    const provisioner = this.provisioner;
    if (!provisioner) return null;
    const row = await findConversationBranch(this.pool, conversationId);
    return row && row.provisioner === provisioner.name ? this.#login(row) : null;
  }

  /** Every password of the project's live databases (branches too): what commands' output is redacted of. */
  async passwordsOf(projectId: string): Promise<string[]> {
    return (await listProjectDatabases(this.pool, projectId)).map((row) => this.#login(row).password);
  }

  // ---- a project's database (routes/databases.ts) ----

  async get(principal: Principal, ref: string, reveal = false): Promise<DatabaseView> {
    const project = await resolveProject(this.pool, principal, ref, reveal ? "project.env.reveal" : "project.read");
    return this.#queue.run(project.id, async () => this.#look(await this.#main(project), principal.userId, reveal));
  }

  /** Makes the project's database, or makes again one that is missing; `created` tells which. */
  async create(principal: Principal, ref: string): Promise<{ view: DatabaseView; created: boolean }> {
    const project = await resolveProject(this.pool, principal, ref, "project.update");
    const provisioner = this.#provisioner();
    return this.#queue.run(project.id, async () => {
      let row = await findMainDatabase(this.pool, project.id);
      const created = row === null;
      row ??= await this.#insert(project, principal.userId);
      if (row.provisioner !== provisioner.name) throw otherProvisioner(row, provisioner);
      // Asking for it means wanting it: the project's sandboxes get it from now on.
      if (project.database !== "postgres") await updateProject(this.pool, project.id, { database: "postgres" });
      if (row.status === "ready" || row.status === "missing") {
        const facts = await this.#inspect(row);
        row = await this.#reconcile(row, facts, principal.userId);
        if (row.status === "ready") return { view: this.#view(row, facts, false), created };
      }
      row = await this.#provision(row, principal.userId, undefined, row.status === "missing" ? { recreated: true } : {});
      return { view: this.#view(row, await this.#inspect(row), false), created };
    });
  }

  /** A new password, at once (new commands in the project's sandboxes get it; open connections stay). */
  async resetPassword(principal: Principal, ref: string): Promise<DatabaseView> {
    const project = await resolveProject(this.pool, principal, ref, "project.update");
    const provisioner = this.#provisioner();
    const current = await this.#main(project);
    return this.#queue.run(project.id, async () => {
      let row = (await findDatabaseById(this.pool, current.id)) ?? current;
      if (row.provisioner !== provisioner.name) throw otherProvisioner(row, provisioner);
      if (row.status === "ready" || row.status === "missing") {
        row = await this.#reconcile(row, await this.#inspect(row), principal.userId);
        if (row.status === "missing") throw missing(row, project.name);
      }
      // Stored first: a crash before the server has it is finished by the next ensure.
      const password = newDatabasePassword();
      const passwordEnc = this.box.seal(password, databasePasswordContext(row.id));
      await withTransaction(this.pool, async (tx) => {
        await setDatabasePassword(tx, row.id, passwordEnc);
        await appendEvent(tx, { type: "database.password_reset", ownerId: principal.userId, projectId: project.id, data: { id: row.id, name: row.name } });
      });
      row = { ...row, passwordEnc };
      if (row.status === "ready") await this.#call(() => provisioner.setPassword(ref_(row), password));
      else row = await this.#provision(row, principal.userId);
      return this.#view(row, await this.#inspect(row), false);
    });
  }

  /** Drops the database and makes it again, empty, with the same name, role and password. */
  async reset(principal: Principal, ref: string, confirm: string): Promise<DatabaseView> {
    const project = await resolveProject(this.pool, principal, ref, "project.update");
    requireConfirmation(confirm, project.name, "the project's name");
    const provisioner = this.#provisioner();
    const current = await this.#main(project);
    return this.#queue.run(project.id, async () => {
      const row = (await findDatabaseById(this.pool, current.id)) ?? current;
      if (row.provisioner !== provisioner.name) throw otherProvisioner(row, provisioner);
      // Pending before the drop: a crash in between leaves it to be made, which a reset wants.
      const pending = await withTransaction(this.pool, async (tx) => {
        const next = await setDatabaseStatus(tx, row.id, "pending");
        await appendEvent(tx, { type: "database.reset", ownerId: principal.userId, projectId: project.id, data: { id: row.id, name: row.name } });
        return next;
      });
      await this.#call(() => provisioner.drop(ref_(row)));
      const ready = await this.#provision(pending, principal.userId);
      return this.#view(ready, await this.#inspect(ready), false);
    });
  }

  /** Drops the project's database (and its branches) for good; its sandboxes get none from now on. */
  async delete(principal: Principal, ref: string, confirm: string): Promise<void> {
    const project = await resolveProject(this.pool, principal, ref, "project.delete");
    requireConfirmation(confirm, project.name, "the project's name");
    await this.#main(project);
    await this.#queue.run(project.id, () =>
      withTransaction(this.pool, async (tx) => {
        await this.#dropAll(tx, await listProjectDatabases(tx, project.id, true), principal.userId);
        await updateProject(tx, project.id, { database: "none" });
      }),
    );
  }

  /**
   * Called by the project's delete, in its transaction with the project locked: a project
   * with a database is deleted only once the caller said what happens to it. `keep` leaves
   * it (its row loses its project, the data stays, an admin lists it); `drop` drops it first.
   */
  async beforeProjectDelete(tx: Queryable, principal: Principal, project: { id: string; name: string }, choice: DatabaseChoice | undefined): Promise<void> {
    const rows = await listProjectDatabases(tx, project.id, true);
    if (rows.length === 0) return;
    const names = rows.map((r) => r.name);
    if (!choice) {
      throw new OutpostError("DATABASE_CHOICE_REQUIRED", `Project '${project.name}' has a database (${names.join(", ")}): keep it or drop it?`, {
        details: { databases: names },
        fix: `Keep it: \`outpost project delete ${project.name} --database keep\` (?database=keep), or drop its data: --database drop.`,
      });
    }
    if (choice === "drop") {
      await this.#dropAll(tx, rows, principal.userId);
      return;
    }
    for (const row of rows) {
      await appendEvent(tx, { type: "database.kept", ownerId: principal.userId, projectId: project.id, data: { id: row.id, name: row.name } });
    }
  }

  // ---- databases kept after their project (admins) ----

  async listKept(principal: Principal, limit: number, cursor: string | undefined): Promise<Page<DatabaseView>> {
    requireAdmin(principal, "database.manage");
    const afterSeq = cursor === undefined ? 0 : decodeCursor(cursor);
    const rows = await listKeptDatabases(this.pool, afterSeq, limit + 1);
    const page = rows.slice(0, limit);
    // Each is looked at: a stored row is not proof of a database.
    const items = await Promise.all(
      page.map(async (row) => {
        const facts = await this.#inspectIfOurs(row).catch(() => null);
        return this.#view(facts ? await this.#reconcile(row, facts, principal.userId) : row, facts, false);
      }),
    );
    const last = rows.length > limit ? page.at(-1) : undefined;
    return { items, nextCursor: last ? encodeCursor(last.seq) : null };
  }

  /** A kept database becomes `project`'s (which must have none): its sandboxes get it from their next command. */
  async attach(principal: Principal, databaseId: string, projectRef: string): Promise<DatabaseView> {
    requireAdmin(principal, "database.manage");
    const row = await withTransaction(this.pool, async (tx) => {
      const kept = await findDatabaseById(tx, databaseId, true);
      if (!kept || kept.projectId !== null || kept.status === "dropped") throw keptNotFound(databaseId);
      const project = await resolveProject(tx, principal, projectRef, "project.update", true);
      const existing = await findMainDatabase(tx, project.id);
      if (existing) {
        throw new OutpostError("DATABASE_EXISTS", `Project '${project.name}' has a database already (${existing.name}).`, {
          details: { database: existing.name },
          fix: `Delete it first (\`outpost db ${project.name} delete\`), or attach ${kept.name} to another project.`,
        });
      }
      const attached = await attachDatabase(tx, kept.id, project);
      await updateProject(tx, project.id, { database: "postgres" });
      await appendEvent(tx, { type: "database.attached", ownerId: principal.userId, projectId: project.id, data: { id: kept.id, name: kept.name } });
      return attached;
    });
    return this.#queue.run(row.projectId ?? row.id, () => this.#look(row, principal.userId, false));
  }

  /** Drops a kept database for good; `confirm` is its name. */
  async dropKept(principal: Principal, databaseId: string, confirm: string): Promise<void> {
    requireAdmin(principal, "database.manage");
    await withTransaction(this.pool, async (tx) => {
      const kept = await findDatabaseById(tx, databaseId, true);
      if (!kept || kept.projectId !== null || kept.status === "dropped") throw keptNotFound(databaseId);
      requireConfirmation(confirm, kept.name, "the database's name");
      await this.#dropAll(tx, [kept], principal.userId);
    });
  }

  // ---- the steps ----

  /** A new row for the project's main database, pending, its password sealed; or the row a racing call made. */
  async #insert(project: ProjectRow, actor: string): Promise<DatabaseRow> {
    const provisioner = this.#provisioner();
    for (let attempt = 0; attempt < 3; attempt++) {
      const id = newId("database");
      const name = databaseName(project.name, randomLowerAlnum(6));
      const inserted = await withTransaction(this.pool, async (tx) => {
        const row = await insertDatabase(tx, {
          id,
          projectId: project.id,
          projectName: project.name,
          ownerId: actor,
          provisioner: provisioner.name,
          name,
          role: name,
          passwordEnc: this.box.seal(newDatabasePassword(), databasePasswordContext(id)),
        });
        if (row) await appendEvent(tx, { type: "database.created", ownerId: actor, projectId: project.id, data: { id, name, provisioner: provisioner.name } });
        return row;
      });
      if (inserted) return inserted;
      // Either another call made the project's row first (use it), or the name was taken (try another).
      const winner = await findMainDatabase(this.pool, project.id);
      if (winner) return winner;
    }
    throw new OutpostError("DATABASE_PROVISION_FAILED", `Could not pick a free database name for project '${project.name}'.`);
  }

  /** Role and database made or finished on the server, then the row ready (with its event); failures are stored. */
  async #provision(row: DatabaseRow, actor: string, signal?: AbortSignal, data: Record<string, unknown> = {}): Promise<DatabaseRow> {
    try {
      await this.#ensure(row, signal);
    } catch (error) {
      if (error instanceof OutpostError && error.code === "DATABASE_PROVISION_FAILED") {
        await withTransaction(this.pool, async (tx) => {
          await setDatabaseStatus(tx, row.id, "failed", error.message.slice(0, 2000));
          await appendEvent(tx, {
            type: "database.failed",
            ownerId: actor,
            projectId: row.projectId,
            data: { id: row.id, name: row.name, error: error.message.slice(0, 500) },
          });
        });
      }
      throw error;
    }
    return withTransaction(this.pool, async (tx) => {
      const ready = await setDatabaseStatus(tx, row.id, "ready");
      await appendEvent(tx, { type: "database.ready", ownerId: actor, projectId: row.projectId, data: { id: row.id, name: row.name, ...data } });
      return ready;
    });
  }

  #ensure(row: DatabaseRow, signal?: AbortSignal): Promise<void> {
    const provisioner = this.#provisioner();
    const options = { password: this.#login(row).password, connectionLimit: this.#connectionLimit, statementTimeoutMs: this.#statementTimeoutMs, signal };
    return this.#call(() => provisioner.ensure(ref_(row), options));
  }

  #inspect(row: DatabaseRow, signal?: AbortSignal): Promise<DatabaseFacts> {
    const provisioner = this.#provisioner();
    return this.#call(() => provisioner.inspect(ref_(row), signal));
  }

  /** Facts from the server when it is this server's provisioner's; null when it is another's. */
  async #inspectIfOurs(row: DatabaseRow): Promise<DatabaseFacts | null> {
    if (!this.provisioner || row.provisioner !== this.provisioner.name) return null;
    return this.#inspect(row);
  }

  /** The row brought in line with what the server has: gone → missing, back → ready (each an event). */
  async #reconcile(row: DatabaseRow, facts: DatabaseFacts, actor: string): Promise<DatabaseRow> {
    const next: DatabaseStatus | null = row.status === "ready" && !facts.exists ? "missing" : row.status === "missing" && facts.exists ? "ready" : null;
    if (!next) return row;
    if (next === "missing") this.#log(`database ${row.name} of ${row.projectId ?? "a deleted project"} is gone from its server`);
    return withTransaction(this.pool, async (tx) => {
      const updated = await setDatabaseStatus(tx, row.id, next, next === "missing" ? "the database is not on its server" : null);
      await appendEvent(tx, { type: `database.${next}`, ownerId: actor, projectId: row.projectId, data: { id: row.id, name: row.name } });
      return updated;
    });
  }

  /** Looks at the server, brings the row in line, and presents it. */
  async #look(row: DatabaseRow, actor: string, reveal: boolean): Promise<DatabaseView> {
    const facts = await this.#inspectIfOurs(row);
    const current = facts ? await this.#reconcile(row, facts, actor) : row;
    return this.#view(current, facts, reveal);
  }

  /** Drops each database on its server, then marks it dropped (with its event); in the caller's transaction. */
  async #dropAll(tx: Queryable, rows: DatabaseRow[], actor: string): Promise<void> {
    for (const row of rows) {
      const provisioner = this.#provisioner();
      if (row.provisioner !== provisioner.name) throw otherProvisioner(row, provisioner);
      await this.#call(() => provisioner.drop(ref_(row)));
      await setDatabaseStatus(tx, row.id, "dropped");
      await appendEvent(tx, { type: "database.dropped", ownerId: actor, projectId: row.projectId, data: { id: row.id, name: row.name } });
    }
  }

  async #main(project: { id: string; name: string }): Promise<DatabaseRow> {
    const row = await findMainDatabase(this.pool, project.id);
    if (!row) {
      throw new OutpostError("DATABASE_NOT_FOUND", `Project '${project.name}' has no database.`, {
        details: { project: project.id },
        fix: `Create it with \`outpost db ${project.name} create\` (POST /api/v1/projects/${project.id}/database).`,
      });
    }
    return row;
  }

  #provisioner(): Provisioner {
    if (this.provisioner) return this.provisioner;
    throw new OutpostError("DATABASES_DISABLED", "This Outpost makes no project databases: it runs with OUTPOST_DATABASE_PROVISIONER=none.");
  }

  /** A provisioner call whose failures become one of ours: the server away (retry) or refusing (its message). */
  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof OutpostError) throw error;
      if ((error as Error).name === "AbortError") throw error;
      const message = (error as Error).message ?? String(error);
      if (isConnectionError(error)) {
        throw new OutpostError("DATABASE_SERVER_UNAVAILABLE", `The project databases' PostgreSQL server did not answer: ${message}`, { cause: error });
      }
      throw new OutpostError("DATABASE_PROVISION_FAILED", `The project databases' PostgreSQL server refused: ${message}`, { cause: error });
    }
  }

  #login(row: DatabaseRow): DatabaseLogin {
    return { name: row.name, role: row.role, password: this.box.open(row.passwordEnc, databasePasswordContext(row.id)) };
  }

  #view(row: DatabaseRow, facts: DatabaseFacts | null, reveal: boolean): DatabaseView {
    const login = { name: row.name, role: row.role, password: reveal ? this.#login(row).password : "****" };
    const there = facts?.exists === true;
    return {
      id: row.id,
      projectId: row.projectId,
      projectName: row.projectName,
      status: row.status === "dropped" ? "missing" : row.status,
      provisioner: row.provisioner,
      name: row.name,
      role: row.role,
      host: DATABASE_HOST,
      port: DATABASE_PORT,
      sizeBytes: there ? facts.sizeBytes : null,
      serverVersion: facts?.serverVersion ?? null,
      extensions: facts?.availableExtensions ?? [],
      connectionString: databaseEnv(login).DATABASE_URL ?? "",
      parentId: row.parentId,
      error: row.error,
      createdAt: row.createdAt,
    };
  }
}

const ref_ = (row: DatabaseRow): DatabaseRef => ({ name: row.name, role: row.role });

function summary(row: DatabaseRow, facts: DatabaseFacts): string {
  return `ready: ${row.name}${facts.serverVersion ? ` (PostgreSQL ${facts.serverVersion})` : ""}`;
}

function requireConfirmation(given: string, expected: string, what: string): void {
  if (given === expected) return;
  throw new OutpostError("CONFIRMATION_MISMATCH", `confirm must be ${what}, '${expected}'.`, {
    details: { expected },
    fix: `Send confirm=${expected} to go ahead; nothing was changed.`,
  });
}

function missing(row: DatabaseRow, projectName: string): OutpostError {
  return new OutpostError("DATABASE_MISSING", `Database ${row.name} is gone from its server.`, {
    details: { database: row.name },
    fix: `Recreate it empty with \`outpost db ${projectName} create\` (POST …/database), or restore it on its server first.`,
  });
}

function keptNotFound(id: string): OutpostError {
  return new OutpostError("DATABASE_NOT_FOUND", `No kept database '${id}' (GET /api/v1/databases lists them).`, {
    details: { database: id },
    fix: "Use an id that GET /api/v1/databases lists: only databases kept after their project are there.",
  });
}

function otherProvisioner(row: DatabaseRow, provisioner: Provisioner): OutpostError {
  return new OutpostError(
    "DATABASE_SERVER_UNAVAILABLE",
    `Database ${row.name} lives on the ${row.provisioner} provisioner's server; this Outpost runs the ${provisioner.name} one.`,
    { details: { database: row.name, provisioner: row.provisioner }, fix: `Start Outpost with OUTPOST_DATABASE_PROVISIONER=${row.provisioner} to reach it.` },
  );
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ENOENT",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08006",
]);

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? "";
  return (
    (typeof code === "string" && CONNECTION_CODES.has(code)) ||
    /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/.test(message)
  );
}
