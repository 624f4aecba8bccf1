// Branches of a project's database: a copy of the main database (CREATE DATABASE … TEMPLATE
// on its server, made by the provisioner, which ends the main's connections for the moment
// the copy takes), with a role and password of its own, optionally for a conversation, so an
// agent can try a risky migration on the copy. A branch can be promoted (it becomes the
// project's database, the old one is dropped) or dropped.
//
// Crash safety, as everywhere in databases/: a row is written before the server is touched
// (`pending`), so a half-made branch is listed and can be dropped; a promotion swaps the rows
// in one transaction (the old main becomes a branch of the new one) before the old one is
// dropped, so a crash in between leaves it listed as a branch, never unseen.
//
// Who: listing, viewer; making, promoting (typed confirmation: the project's name) and
// dropping, editor, like resetting the database.
import type { Principal } from "../../domain/authorization.ts";
import { branchName, databaseEnv } from "../../domain/databases.ts";
import { OutpostError } from "../../domain/errors.ts";
import { newId, randomLowerAlnum } from "../../domain/ids.ts";
import { withTransaction } from "../../store/database.ts";
import { type DatabaseRow, findDatabaseById, insertDatabase, listProjectDatabases, promoteBranch, setDatabaseStatus } from "../../store/databases.ts";
import { appendEvent } from "../../store/events.ts";
import { conversationById } from "../../store/runs.ts";
import { resolveProject } from "../project-access.ts";
import type { DatabaseAccess } from "./data-access.ts";
import { DEFAULT_CONNECTION_LIMIT, DEFAULT_STATEMENT_TIMEOUT_MS, databasePasswordContext, newDatabasePassword } from "./databases.ts";
import type { DatabaseRef } from "./provisioner.ts";

export interface BranchView {
  id: string;
  name: string;
  role: string;
  status: DatabaseRow["status"];
  /** The database it was copied from (the project's main one; after a promotion, the new main). */
  parentId: string;
  conversationId: string | null;
  /** As the sandbox reaches it (127.0.0.1:5432 inside); the password is `****` unless revealed. */
  connectionString: string;
  error: string | null;
  createdAt: Date;
}

export class DatabaseBranches {
  readonly #limits: { connectionLimit: number; statementTimeoutMs: number };

  constructor(
    private readonly access: DatabaseAccess,
    options: { connectionLimit?: number; statementTimeoutMs?: number } = {},
  ) {
    this.#limits = {
      connectionLimit: options.connectionLimit ?? DEFAULT_CONNECTION_LIMIT,
      statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    };
  }

  /** A copy of the project's database, for a conversation of the project when one is named. */
  async create(principal: Principal, ref: string, options: { conversationId?: string } = {}): Promise<BranchView> {
    const main = await this.access.main(principal, ref, "project.update");
    const { project, provisioner } = main;
    if (options.conversationId) {
      const conversation = await conversationById(this.access.pool, options.conversationId);
      if (!conversation || conversation.projectId !== project.id) {
        throw new OutpostError("NOT_FOUND", `No conversation '${options.conversationId}' in project '${project.name}'.`, {
          details: { conversation: options.conversationId },
        });
      }
    }
    const id = newId("database");
    const name = branchName(main.row.name, randomLowerAlnum(8));
    const password = newDatabasePassword();
    const row = await withTransaction(this.access.pool, async (tx) => {
      const inserted = await insertDatabase(tx, {
        id,
        projectId: project.id,
        projectName: project.name,
        ownerId: principal.userId,
        provisioner: provisioner.name,
        name,
        role: name,
        passwordEnc: this.access.secrets.seal(password, databasePasswordContext(id)),
        parentId: main.row.id,
        conversationId: options.conversationId ?? null,
        status: "pending",
      });
      if (!inserted) throw new OutpostError("DATABASE_PROVISION_FAILED", `The branch name ${name} is taken; try again.`);
      return inserted;
    });
    try {
      await provisioner.branch(main.ref, refOf(row), { password, ...this.#limits });
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      await withTransaction(this.access.pool, (tx) => setDatabaseStatus(tx, row.id, "failed", message.slice(0, 2000)));
      if (error instanceof OutpostError) throw error;
      throw new OutpostError("DATABASE_PROVISION_FAILED", `Copying database ${main.row.name} failed: ${message.slice(0, 500)}`, { cause: error });
    }
    const ready = await withTransaction(this.access.pool, async (tx) => {
      const next = await setDatabaseStatus(tx, row.id, "ready");
      await appendEvent(tx, {
        type: "database.branched",
        ownerId: principal.userId,
        projectId: project.id,
        data: { id: row.id, name: row.name, parentId: main.row.id, conversationId: row.conversationId },
      });
      return next;
    });
    return this.#view(ready, false);
  }

  async list(principal: Principal, ref: string, reveal = false): Promise<BranchView[]> {
    const project = await resolveProject(this.access.pool, principal, ref, reveal ? "project.env.reveal" : "project.read");
    const rows = await listProjectDatabases(this.access.pool, project.id);
    return rows.filter((row) => row.parentId !== null).map((row) => this.#view(row, reveal));
  }

  /**
   * The branch becomes the project's database (its sandboxes' next commands get its login);
   * the old one is dropped, its connections ended. `confirm` is the project's name.
   */
  async promote(principal: Principal, ref: string, branchId: string, confirm: string): Promise<BranchView> {
    const provisioner = this.access.requireProvisioner();
    const { project, branch, oldMain } = await withTransaction(this.access.pool, async (tx) => {
      const main = await this.access.main(principal, ref, "project.update", tx, true);
      if (confirm !== main.project.name) {
        throw new OutpostError("CONFIRMATION_MISMATCH", `confirm must be the project's name, '${main.project.name}'.`, {
          details: { expected: main.project.name },
          fix: `Send confirm=${main.project.name} to promote the branch; its database ${main.row.name} is dropped then.`,
        });
      }
      const branch = await this.#branch(tx, main.project, branchId);
      this.access.login(main.project, branch, provisioner);
      const promoted = await promoteBranch(tx, main.project.id, branch.id);
      await appendEvent(tx, {
        type: "database.promoted",
        ownerId: principal.userId,
        projectId: main.project.id,
        data: { id: branch.id, name: branch.name, replaced: { id: main.row.id, name: main.row.name } },
      });
      return { project: main.project, branch: promoted, oldMain: main.row };
    });
    await provisioner.drop(refOf(oldMain));
    await withTransaction(this.access.pool, async (tx) => {
      await setDatabaseStatus(tx, oldMain.id, "dropped");
      await appendEvent(tx, { type: "database.dropped", ownerId: principal.userId, projectId: project.id, data: { id: oldMain.id, name: oldMain.name } });
    });
    return this.#view(branch, false);
  }

  /** Drops a branch on its server and for good. */
  async drop(principal: Principal, ref: string, branchId: string): Promise<void> {
    const provisioner = this.access.requireProvisioner();
    const project = await resolveProject(this.access.pool, principal, ref, "project.update");
    const branch = await this.#branch(this.access.pool, project, branchId);
    if (branch.provisioner !== provisioner.name) {
      throw new OutpostError(
        "DATABASE_SERVER_UNAVAILABLE",
        `Branch ${branch.name} lives on the '${branch.provisioner}' server, and this Outpost uses '${provisioner.name}'.`,
      );
    }
    await provisioner.drop(refOf(branch));
    await withTransaction(this.access.pool, async (tx) => {
      await setDatabaseStatus(tx, branch.id, "dropped");
      await appendEvent(tx, { type: "database.dropped", ownerId: principal.userId, projectId: project.id, data: { id: branch.id, name: branch.name } });
    });
  }

  async #branch(db: Parameters<typeof findDatabaseById>[0], project: { id: string; name: string }, branchId: string): Promise<DatabaseRow> {
    const row = await findDatabaseById(db, branchId, true);
    if (!row || row.projectId !== project.id || row.parentId === null || row.status === "dropped") {
      throw new OutpostError("DATABASE_NOT_FOUND", `Project '${project.name}' has no database branch '${branchId}'.`, {
        details: { branch: branchId },
        fix: `List its branches with \`outpost db ${project.name} branch list\` (GET …/database/branches).`,
      });
    }
    return row;
  }

  #view(row: DatabaseRow, reveal: boolean): BranchView {
    const password = reveal ? this.access.secrets.open(row.passwordEnc, databasePasswordContext(row.id)) : "****";
    return {
      id: row.id,
      name: row.name,
      role: row.role,
      status: row.status,
      parentId: row.parentId ?? "",
      conversationId: row.conversationId,
      connectionString: databaseEnv({ name: row.name, role: row.role, password }).DATABASE_URL ?? "",
      error: row.error,
      createdAt: row.createdAt,
    };
  }
}

const refOf = (row: DatabaseRow): DatabaseRef => ({ name: row.name, role: row.role });
