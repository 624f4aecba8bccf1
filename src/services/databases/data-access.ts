// What the data side of project databases (dump, restore, tables, query, branches) starts
// from: the caller may act on the project, the project has a database that is there, and the
// login its tools use (the database's own role, its password opened here on the host).
import type pg from "pg";
import type { SecretBox } from "../../crypto/secrets.ts";
import type { Principal, ProjectAction } from "../../domain/authorization.ts";
import { OutpostError } from "../../domain/errors.ts";
import type { Queryable } from "../../store/database.ts";
import { type DatabaseRow, findMainDatabase } from "../../store/databases.ts";
import type { VisibleProject } from "../../store/projects.ts";
import { resolveProject } from "../project-access.ts";
import { databasePasswordContext } from "./databases.ts";
import type { DatabaseRef, Provisioner, ToolConnection } from "./provisioner.ts";

export interface ProjectDatabase {
  project: VisibleProject;
  row: DatabaseRow;
  ref: DatabaseRef;
  password: string;
  provisioner: Provisioner;
}

export class DatabaseAccess {
  constructor(
    readonly pool: pg.Pool,
    readonly secrets: SecretBox,
    /** Null when project databases are turned off (OUTPOST_DATABASE_PROVISIONER=none). */
    readonly provisioner: Provisioner | null,
  ) {}

  /** The provisioner, or the 503 that says how to turn databases on. */
  requireProvisioner(): Provisioner {
    if (!this.provisioner) throw new OutpostError("DATABASES_DISABLED", "Project databases are turned off on this Outpost.");
    return this.provisioner;
  }

  /** The project's main database, ready, with its login; `db` lets a transaction lock the row. */
  async main(principal: Principal, ref: string, action: ProjectAction, db: Queryable = this.pool, forUpdate = false): Promise<ProjectDatabase> {
    const provisioner = this.requireProvisioner();
    const project = await resolveProject(db, principal, ref, action, forUpdate);
    const row = await findMainDatabase(db, project.id, forUpdate);
    if (!row) throw new OutpostError("DATABASE_NOT_FOUND", `Project '${project.name}' has no database.`, { details: { project: project.id } });
    return this.login(project, row, provisioner);
  }

  /** A database row of the project (main or branch) with its login, when it is ready. */
  login(project: VisibleProject, row: DatabaseRow, provisioner = this.requireProvisioner()): ProjectDatabase {
    requireReady(project, row);
    if (row.provisioner !== provisioner.name) {
      throw new OutpostError(
        "DATABASE_SERVER_UNAVAILABLE",
        `Database ${row.name} lives on the '${row.provisioner}' server, and this Outpost uses '${provisioner.name}'.`,
        {
          fix: `Start Outpost with OUTPOST_DATABASE_PROVISIONER=${row.provisioner} to reach it.`,
        },
      );
    }
    const password = this.secrets.open(row.passwordEnc, databasePasswordContext(row.id));
    return { project, row, ref: { name: row.name, role: row.role }, password, provisioner };
  }

  /** libpq's settings for host-side tools and node-postgres, as the database's role (a cluster's may be looked up). */
  async connection(database: ProjectDatabase): Promise<ToolConnection> {
    return database.provisioner.toolConnection(database.ref, database.password);
  }
}

export function requireReady(project: { name: string }, row: DatabaseRow): void {
  if (row.status === "ready") return;
  if (row.status === "missing") {
    throw new OutpostError("DATABASE_MISSING", `Database ${row.name} of project '${project.name}' is gone from its server.`);
  }
  throw new OutpostError("DATABASE_NOT_READY", `Database ${row.name} of project '${project.name}' is ${row.status}${row.error ? `: ${row.error}` : ""}.`, {
    details: { status: row.status },
  });
}

/** A connection failure of node-postgres as an Outpost error (the server down, the database gone). */
export function connectionFailure(error: unknown, name: string): OutpostError {
  if (error instanceof OutpostError) return error;
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  if (code === "3D000") return new OutpostError("DATABASE_MISSING", `Database ${name} is gone from its server.`, { cause: error });
  return new OutpostError("DATABASE_SERVER_UNAVAILABLE", `Could not connect to database ${name}: ${message.slice(0, 300)}`, { cause: error });
}
