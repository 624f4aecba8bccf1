// Start-up, databases and sandboxes: the `database` stage (before the driver's: the database
// exists before anything in the sandbox may want it), what commands in a sandbox are told
// (DATABASE_URL and libpq's PG* variables, the password redacted from output like a
// secret), and where the sandbox's 127.0.0.1:5432 is carried to. Bound late, like the
// repository stage: the database runtime is made after the sandbox runtime.
import { type DatabaseLogin, databaseEnv } from "../domain/databases.ts";
import type { SandboxPreparer } from "../reconciler/sandbox-kind.ts";
import type { ServerEndpoint } from "../services/databases/provisioner.ts";
import type { TurnHooks } from "../services/run-engine.ts";
import type { CommandVariables } from "../services/variables.ts";

export const DATABASE_STAGE = "database";

/** What sandboxes need of the database service (services/databases/databases.ts). */
export interface DatabasesForSandboxes {
  ensureForProject(projectId: string, progress: (message: string) => void, signal: AbortSignal): Promise<string>;
  forSandbox(projectId: string): Promise<{ login: DatabaseLogin; endpoint: ServerEndpoint } | null>;
  forConversation(conversationId: string): Promise<DatabaseLogin | null>;
  passwordsOf(projectId: string): Promise<string[]>;
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
    const databases = get();
    const [variables, database, passwords] = await Promise.all([
      forCommands(projectId),
      databases?.forSandbox(projectId) ?? null,
      databases?.passwordsOf(projectId) ?? [],
    ]);
    // Branches' passwords too: a conversation's turns get a branch's login (databaseTurnHooks).
    const secrets = [...variables.secrets, ...passwords.map((value) => ({ name: "PGPASSWORD", value }))];
    if (!database) return { env: variables.env, secrets };
    return { env: { ...databaseEnv(database.login), ...variables.env }, secrets };
  };
}

/** Where the bridge carries a project's database connections. */
export function databaseEndpointOf(get: () => DatabasesForSandboxes | undefined) {
  return async (projectId: string): Promise<ServerEndpoint | null> => (await get()?.forSandbox(projectId))?.endpoint ?? null;
}

/**
 * Around an agent turn: a conversation that has a database branch of its own works on that
 * copy (its login replaces the main one's for the turn), so a risky migration never touches
 * the project's database until the branch is promoted.
 */
export function databaseTurnHooks(get: () => DatabasesForSandboxes | undefined): TurnHooks {
  return {
    async before(run) {
      const login = await get()?.forConversation(run.conversationId);
      return login ? { env: databaseEnv(login) } : {};
    },
    async after() {},
  };
}

/**
 * Several hooks as one: environments merged (later ones win), the first working folder, every
 * `after`. One that fails is logged and left out: the others still apply.
 */
export function combineTurnHooks(log: (obj: object, msg: string) => void, ...hooks: TurnHooks[]): TurnHooks {
  type Before = Awaited<ReturnType<TurnHooks["before"]>>;
  return {
    async before(run, client, signal) {
      const results: Before[] = [];
      for (const hook of hooks) {
        results.push(
          await hook.before(run, client, signal).catch((error: unknown): Before => {
            log({ runId: run.id, err: error }, "before the turn: a step failed; the agent works without it");
            return {};
          }),
        );
      }
      const cwd = results.find((r) => r.cwd)?.cwd;
      return { env: Object.assign({}, ...results.map((r) => r.env ?? {})), ...(cwd ? { cwd } : {}) };
    },
    async after(run) {
      for (const hook of hooks) await hook.after(run);
    },
  };
}
