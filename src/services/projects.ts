// Project use cases. Each mutation and its event commit in one transaction, so the events
// stream never tells of a change that was rolled back, nor misses one that was made. Every
// method takes the acting principal; authorize() (through resolveProject) decides.
import type pg from "pg";
import type { SecretBox } from "../crypto/secrets.ts";
import { type AgentSettings, agentSettings } from "../domain/agents/settings.ts";
import type { Principal } from "../domain/authorization.ts";
import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from "../domain/egress-policy.ts";
import { OutpostError } from "../domain/errors.ts";
import type { GitSettings } from "../domain/git/settings.ts";
import { fingerprint } from "../domain/idempotency.ts";
import { newId } from "../domain/ids.ts";
import { decodeCursor, encodeCursor, type Page } from "../domain/pagination.ts";
import { projectEnvProblem } from "../domain/project-env.ts";
import { type Queryable, withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import { setMember } from "../store/members.ts";
import * as store from "../store/projects.ts";
import { countLiveSandboxes } from "../store/sandboxes.ts";
import { replayOf } from "./idempotency.ts";
import { resolveProject } from "./project-access.ts";
import type { ProjectChanges } from "./project-changes.ts";

// Their home is the domain now; re-exported for the code that has always found them here.
export { decodeCursor, encodeCursor, type Page };

/** What creating a project takes: a name, and whatever of the rest the caller chose. */
export interface ProjectDraft {
  name: string;
  repoUrl?: string;
  defaultBranch?: string;
  instructions?: string;
  /** Plain values; sealed before they are stored. */
  env?: Record<string, string>;
  egress?: Partial<EgressPolicy>;
  database?: store.ProjectRow["database"];
  tokenBudget?: number | null;
  /** Seconds idle before its sandboxes stop (0: never); default 1800. */
  idleTimeoutSeconds?: number;
  /** The environment (by name) its sandboxes start from; absent or null: the host's /usr. */
  environment?: string | null;
}

/** A partial update: the fields given replace the stored ones (null clears); the name never changes. */
export interface ProjectPatch extends Partial<Omit<store.ProjectFields, "egress" | "agent" | "git">> {
  /** The fields given replace the stored ones; null resets one to its default. */
  git?: { [K in keyof GitSettings]?: GitSettings[K] | null };
  /** The fields given replace the stored ones; limits are merged field by field. */
  agent?: Partial<Omit<AgentSettings, "limits">> & { limits?: Partial<AgentSettings["limits"]> };
  /** The fields given replace the stored ones (level, allow, deny). */
  egress?: Partial<EgressPolicy>;
  /** Merged into the environment: a string sets a variable, null removes it. */
  env?: Record<string, string | null>;
  /** An environment's name; null: none (the host's /usr). Applies at the sandboxes' next start. */
  environment?: string | null;
}

/**
 * What a project's delete asks of its databases (services/databases/databases.ts), in the
 * delete's transaction: a project with one goes only once the caller chose to keep or drop it.
 */
export interface ProjectDeleteGuard {
  beforeProjectDelete(tx: Queryable, principal: Principal, project: { id: string; name: string }, choice: "keep" | "drop" | undefined): Promise<void>;
}

/** One environment variable; its value is there only when the caller asked to reveal it. */
export interface ProjectEnvVariable {
  name: string;
  value?: string;
}

/** A project as the use cases answer it: the stored row with its environment. */
export type ProjectWithEnv = store.ProjectRow & { env: ProjectEnvVariable[] };

/** Environments by name, for a project's `environment` (services/environments). */
export interface EnvironmentResolver {
  resolveForProject(name: string | null): Promise<string | null>;
}

export class ProjectService {
  #databases?: ProjectDeleteGuard;
  #environments?: EnvironmentResolver;

  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
    private readonly changes?: ProjectChanges,
    /** `postgres` when this server can make databases: a new project gets one unless it says none. */
    private readonly options: { defaultDatabase?: store.ProjectRow["database"] } = {},
  ) {}

  /**
   * Any signed-in user may create a project; they become its first owner. With an
   * idempotency key, a repeated create answers the project the first one made.
   */
  async create(principal: Principal, input: ProjectDraft, idempotencyKey?: string): Promise<ProjectWithEnv> {
    const ownerId = principal.userId;
    const environmentId = await this.#environmentId(input.environment);
    return withTransaction(this.pool, async (tx) => {
      const id = newId("project");
      if (idempotencyKey) {
        const earlier = await replayOf(tx, ownerId, { key: idempotencyKey, scope: "project.create", fingerprint: fingerprint("project.create", input) }, id);
        if (earlier) return this.#withEnv(await resolveProject(tx, principal, earlier, "project.read"), await store.listEnv(tx, earlier, ["env"]), false);
      }
      const row = await store.insertProject(tx, {
        id,
        ownerId,
        name: input.name,
        repoUrl: input.repoUrl ?? null,
        defaultBranch: input.defaultBranch ?? null,
        instructions: input.instructions ?? null,
        egress: { ...DEFAULT_EGRESS_POLICY, ...input.egress },
        database: input.database ?? this.options.defaultDatabase ?? "none",
        tokenBudget: input.tokenBudget ?? null,
        idleTimeoutSeconds: input.idleTimeoutSeconds,
        environmentId: environmentId ?? null,
      });
      await setMember(tx, row.id, ownerId, "owner");
      for (const [name, value] of Object.entries(input.env ?? {})) {
        await store.setEnv(tx, row.id, this.#envVariable(row.id, name, value));
      }
      await appendEvent(tx, { type: "project.created", ownerId, projectId: row.id, data: { name: row.name } });
      return this.#withEnv(row, await store.listEnv(tx, row.id, ["env"]), false);
    });
  }

  async get(principal: Principal, ref: string, reveal = false): Promise<ProjectWithEnv> {
    const row = await resolveProject(this.pool, principal, ref, reveal ? "project.env.reveal" : "project.read");
    return this.#withEnv(row, await store.listEnv(this.pool, row.id, ["env"]), reveal);
  }

  /** Resolves an id or name to the id of a project the caller may read (for filters such as `?project=`). */
  async resolveId(principal: Principal, ref: string): Promise<string> {
    return (await resolveProject(this.pool, principal, ref, "project.read")).id;
  }

  /** The projects the caller is a member of. */
  async list(principal: Principal, limit: number, cursor: string | undefined): Promise<Page<ProjectWithEnv>> {
    const afterSeq = cursor === undefined ? 0 : decodeCursor(cursor);
    const rows = await store.listProjects(this.pool, principal.userId, afterSeq, limit + 1);
    const items = await Promise.all(rows.slice(0, limit).map(async (row) => this.#withEnv(row, await store.listEnv(this.pool, row.id, ["env"]), false)));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(last.seq) : null };
  }

  async update(principal: Principal, ref: string, patch: ProjectPatch): Promise<ProjectWithEnv> {
    const environmentId = await this.#environmentId(patch.environment);
    const updated = await withTransaction(this.pool, async (tx) => {
      const current = await resolveProject(tx, principal, ref, "project.update", true);
      const { env, egress, agent, git, environment, ...rest } = patch;
      if (env) {
        const variables = await store.listEnv(tx, current.id);
        assertOnlyEnvKind(variables, Object.keys(env));
        assertEnvFits(applyEnvPatch(this.#commandEnv(current.id, variables), env));
      }
      const fields: Partial<store.ProjectFields> = egress ? { ...rest, egress: { ...current.egress, ...egress } } : { ...rest };
      if (git) fields.git = mergeGit(current.git, git);
      // Host keys belong to the repository's host: a new URL gets them pinned afresh at the next start.
      if (rest.repoUrl !== undefined && rest.repoUrl !== current.repoUrl && git?.knownHosts === undefined && (fields.git ?? current.git).knownHosts) {
        fields.git = mergeGit(fields.git ?? current.git, { knownHosts: null });
      }
      if (environment !== undefined) fields.environmentId = environmentId ?? null;
      if (agent) fields.agent = { ...current.agent, ...agent, limits: { ...agentSettings(current.agent).limits, ...agent.limits } };
      const row = await store.updateProject(tx, current.id, fields);
      for (const [name, value] of Object.entries(env ?? {})) {
        if (value === null) await store.deleteEnv(tx, row.id, name);
        else await store.setEnv(tx, row.id, this.#envVariable(row.id, name, value));
      }
      const changed = [...Object.keys(fields), ...(env ? ["env"] : [])];
      await appendEvent(tx, { type: "project.updated", ownerId: principal.userId, projectId: row.id, data: { name: row.name, changed } });
      return this.#withEnv(row, await store.listEnv(tx, row.id, ["env"]), false);
    });
    this.changes?.changed(updated.id);
    return updated;
  }

  /** Environments by name (bound once the environment runtime exists). */
  useEnvironments(resolver: EnvironmentResolver): void {
    this.#environments = resolver;
  }

  /** undefined: not asked; null: none. */
  async #environmentId(name: string | null | undefined): Promise<string | null | undefined> {
    if (name === undefined || name === null) return name;
    if (!this.#environments) throw new OutpostError("ENVIRONMENT_NOT_FOUND", `No environment '${name}' (environments are not set up on this server).`);
    return this.#environments.resolveForProject(name);
  }

  /** The project databases' say in a project's delete (bound once the database runtime exists). */
  useDatabases(guard: ProjectDeleteGuard): void {
    this.#databases = guard;
  }

  async delete(principal: Principal, ref: string, options: { database?: "keep" | "drop" } = {}): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      const row = await resolveProject(tx, principal, ref, "project.delete", true);
      const live = await countLiveSandboxes(tx, row.id);
      if (live > 0) {
        throw new OutpostError("PROJECT_HAS_SANDBOXES", `Project '${row.name}' still has ${live} sandbox(es); delete them first.`, {
          details: { sandboxes: live },
        });
      }
      await this.#databases?.beforeProjectDelete(tx, principal, row, options.database);
      // Deleted sandboxes go with their project; kept workspaces on disk stay until purged.
      await tx.query("update sandboxes set workspace_from = null where project_id = $1", [row.id]);
      await tx.query("delete from sandboxes where project_id = $1 and phase = 'deleted'", [row.id]);
      await store.deleteProject(tx, row.id);
      await appendEvent(tx, { type: "project.deleted", ownerId: principal.userId, projectId: row.id, data: { name: row.name } });
    });
  }

  /** What commands see of every variable (credentials as their placeholders), to size a change. */
  #commandEnv(projectId: string, rows: store.EnvRow[]): Record<string, string> {
    return Object.fromEntries(
      rows.map((r) => [r.name, r.kind === "credential" ? (r.placeholder ?? "") : this.secrets.open(r.valueEnc, envContext(projectId, r.name))]),
    );
  }

  #envVariable(projectId: string, name: string, value: string): store.NewVariable {
    return { name, valueEnc: this.secrets.seal(value, envContext(projectId, name)), kind: "env", placeholder: null, inject: [] };
  }

  /** Values are opened only when revealed: the sealed ones never leave this service. */
  #withEnv(row: store.ProjectRow, env: store.EnvRow[], reveal: boolean): ProjectWithEnv {
    return {
      ...row,
      env: env.map((e) => (reveal ? { name: e.name, value: this.secrets.open(e.valueEnc, envContext(row.id, e.name)) } : { name: e.name })),
    };
  }
}

function applyEnvPatch(current: Record<string, string>, patch: Record<string, string | null>): Record<string, string> {
  const next = { ...current };
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete next[name];
    else next[name] = value;
  }
  return next;
}

/** `env` changes plain variables only: turning a secret or credential into one would show its value. */
function assertOnlyEnvKind(variables: store.EnvRow[], names: string[]): void {
  for (const variable of variables) {
    if (variable.kind !== "env" && names.includes(variable.name)) {
      throw new OutpostError("VARIABLE_KIND_CONFLICT", `${variable.name} is a ${variable.kind}, not a plain env variable.`, {
        details: { name: variable.name, kind: variable.kind },
      });
    }
  }
}

/** The same bound as on create, for the environment a PATCH would leave behind. */
function assertEnvFits(env: Record<string, string>): void {
  const problem = projectEnvProblem(env);
  if (problem) {
    throw new OutpostError("VALIDATION_FAILED", `Invalid request: ${problem}`, { details: { issues: [{ path: "env", message: problem }] } });
  }
}

/** Binds each ciphertext to its row (see crypto/secrets.ts). */
const envContext = (projectId: string, name: string) => `project_env:${projectId}:${name}`;

/** Stored git settings with a change applied: a value replaces, null removes (the default applies). */
function mergeGit(current: Partial<GitSettings>, change: NonNullable<ProjectPatch["git"]>): Partial<GitSettings> {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(change)) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  return next as Partial<GitSettings>;
}
