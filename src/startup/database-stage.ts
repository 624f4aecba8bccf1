// Start-up, databases and sandboxes: the `database` stage (before the driver's: the database
// exists before anything in the sandbox may want it), what commands in a sandbox are told
// (DATABASE_URL and libpq's PG* variables, the password redacted from output like a
// secret), and where the sandbox's 127.0.0.1:5432 is carried to. Bound late, like the
// repository stage: the database runtime is made after the sandbox runtime.
import { type DatabaseLogin, databaseEnv } from "../domain/databases.ts";
import type { SandboxPreparer } from "../reconciler/sandbox-kind.ts";
import type { ServerEndpoint } from "../services/databases/provisioner.ts";
import type { CommandVariables } from "../services/variables.ts";

export const DATABASE_STAGE = "database";

/** What sandboxes need of the database service (services/databases/databases.ts). */
export interface DatabasesForSandboxes {
  ensureForProject(projectId: string, progress: (message: string) => void, signal: AbortSignal): Promise<string>;
  forSandbox(projectId: string): Promise<{ login: DatabaseLogin; endpoint: ServerEndpoint } | null>;
}

export function lateDatabaseStage(get: () => DatabasesForSandboxes | undefined): SandboxPreparer {
  return {
    stage: DATABASE_STAGE,
    when: "before",
    async run(sandbox, progress, signal) {
      const databases = get();
      if (!databases) return "none: no database provisioner on this server";
      return databases.ensureForProject(sandbox.projectId, progress, signal);
    },
  };
}

/** The project's variables for commands, with its database's login (the project's own variables win). */
export function withDatabaseEnvironment(get: () => DatabasesForSandboxes | undefined, forCommands: (projectId: string) => Promise<CommandVariables>) {
  return async (projectId: string): Promise<CommandVariables> => {
    const [variables, database] = await Promise.all([forCommands(projectId), get()?.forSandbox(projectId) ?? null]);
    if (!database) return variables;
    return {
      env: { ...databaseEnv(database.login), ...variables.env },
      secrets: [...variables.secrets, { name: "PGPASSWORD", value: database.login.password }],
    };
  };
}

/** Where the bridge carries a project's database connections. */
export function databaseEndpointOf(get: () => DatabasesForSandboxes | undefined) {
  return async (projectId: string): Promise<ServerEndpoint | null> => (await get()?.forSandbox(projectId))?.endpoint ?? null;
}
