// A project's variables, all three kinds (docs/api.md, "Variables and secrets"):
//   env         handed to commands as it is (Project.env is the shortcut for these);
//   secret      handed to commands, redacted from what the control plane streams and stores;
//   credential  never handed to a sandbox: commands see a placeholder, and the egress proxy
//               and model gateway swap the value in on requests to the credential's hosts.
// Values are sealed at rest (crypto/secrets.ts) and write-only through the API: secrets and
// credentials are never returned, not even to owners (env values are, with ?reveal=true).
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { SecretBox } from "../crypto/secrets.ts";
import type { Principal } from "../domain/authorization.ts";
import { type Credential, credentialPlaceholder, DEFAULT_INJECT, type InjectRule } from "../domain/credentials.ts";
import { OutpostError } from "../domain/errors.ts";
import { projectEnvProblem } from "../domain/project-env.ts";
import { type Queryable, withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/projects.ts";
import { resolveProject } from "./project-access.ts";
import type { ProjectChanges } from "./project-changes.ts";

export type VariableKind = store.VariableKind;

export interface VariableInput {
  name: string;
  value: string;
  kind: VariableKind;
  /** Credentials only; default: DEFAULT_INJECT for well-known names. */
  inject?: InjectRule[];
}

/** A variable as the API shows it: never its value, unless it is `env` and revealed elsewhere. */
export interface VariableView {
  name: string;
  kind: VariableKind;
  inject: InjectRule[];
  placeholder: string | null;
  updatedAt: Date;
}

/** What a command in a sandbox gets: its environment, and the values to redact from its output. */
export interface CommandVariables {
  env: Record<string, string>;
  secrets: { name: string; value: string }[];
}

export class VariableService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly box: SecretBox,
    private readonly changes?: ProjectChanges,
  ) {}

  async list(principal: Principal, ref: string): Promise<VariableView[]> {
    const project = await resolveProject(this.pool, principal, ref, "project.read");
    return (await store.listEnv(this.pool, project.id)).map(view);
  }

  async set(principal: Principal, ref: string, input: VariableInput): Promise<VariableView> {
    const { projectId, row } = await withTransaction(this.pool, async (tx) => {
      const project = await resolveProject(tx, principal, ref, "project.update", true);
      const inject = input.kind === "credential" ? (input.inject ?? DEFAULT_INJECT[input.name] ?? []) : [];
      if (input.kind === "credential" && inject.length === 0) {
        throw new OutpostError("VALIDATION_FAILED", `Credential ${input.name} needs to know where it goes.`, {
          details: { issues: [{ path: "inject", message: "a credential needs at least one inject rule (host and header)" }] },
          fix: `Pass --inject host:header, e.g. --inject api.example.com:authorization:bearer.`,
        });
      }
      const existing = (await store.listEnv(tx, project.id)).find((v) => v.name === input.name);
      // A credential keeps its placeholder when its value changes: sandboxes keep working.
      const placeholder = input.kind === "credential" ? (existing?.placeholder ?? credentialPlaceholder(input.value, randomBytes(16).toString("hex"))) : null;
      const next = { ...(await this.#commandEnv(tx, project.id, input.name)), [input.name]: placeholder ?? input.value };
      assertFits(next);
      await store.setEnv(tx, project.id, {
        name: input.name,
        valueEnc: this.box.seal(input.value, variableContext(project.id, input.name)),
        kind: input.kind,
        placeholder,
        inject,
      });
      await appendEvent(tx, {
        type: "project.variable.set",
        ownerId: principal.userId,
        projectId: project.id,
        data: { name: input.name, kind: input.kind },
      });
      const row = (await store.listEnv(tx, project.id)).find((v) => v.name === input.name);
      if (!row) throw new Error(`variable ${input.name} vanished in its own transaction`);
      return { projectId: project.id, row };
    });
    this.changes?.changed(projectId);
    return view(row);
  }

  async unset(principal: Principal, ref: string, name: string): Promise<void> {
    const projectId = await withTransaction(this.pool, async (tx) => {
      const project = await resolveProject(tx, principal, ref, "project.update", true);
      const existing = (await store.listEnv(tx, project.id)).find((v) => v.name === name);
      if (!existing) {
        throw new OutpostError("VARIABLE_NOT_FOUND", `Project '${project.name}' has no variable ${name}.`, { details: { name } });
      }
      await store.deleteEnv(tx, project.id, name);
      await appendEvent(tx, { type: "project.variable.unset", ownerId: principal.userId, projectId: project.id, data: { name, kind: existing.kind } });
      return project.id;
    });
    this.changes?.changed(projectId);
  }

  /** For commands in the project's sandboxes: env and secret values, credential placeholders. */
  async forCommands(projectId: string): Promise<CommandVariables> {
    const rows = await store.listEnv(this.pool, projectId);
    const env: Record<string, string> = {};
    const secrets: { name: string; value: string }[] = [];
    for (const row of rows) {
      if (row.kind === "credential") {
        env[row.name] = row.placeholder ?? "";
        continue;
      }
      const value = this.box.open(row.valueEnc, variableContext(projectId, row.name));
      env[row.name] = value;
      if (row.kind === "secret") secrets.push({ name: row.name, value });
    }
    return { env, secrets };
  }

  /** The project's credentials with their values, for the egress proxy and gateway (host side only). */
  async credentials(projectId: string): Promise<Credential[]> {
    const rows = await store.listEnv(this.pool, projectId, ["credential"]);
    return rows.map((row) => ({
      name: row.name,
      value: this.box.open(row.valueEnc, variableContext(projectId, row.name)),
      placeholder: row.placeholder ?? "",
      inject: row.inject,
    }));
  }

  /** The environment commands would get, without `except` (sized before a change). */
  async #commandEnv(db: Queryable, projectId: string, except: string): Promise<Record<string, string>> {
    const rows = await store.listEnv(db, projectId);
    const env: Record<string, string> = {};
    for (const row of rows) {
      if (row.name === except) continue;
      env[row.name] = row.kind === "credential" ? (row.placeholder ?? "") : this.box.open(row.valueEnc, variableContext(projectId, row.name));
    }
    return env;
  }
}

function view(row: store.EnvRow): VariableView {
  return { name: row.name, kind: row.kind, inject: row.inject, placeholder: row.placeholder, updatedAt: row.updatedAt };
}

function assertFits(env: Record<string, string>): void {
  const problem = projectEnvProblem(env);
  if (problem) throw new OutpostError("VALIDATION_FAILED", `Invalid request: ${problem}`, { details: { issues: [{ path: "value", message: problem }] } });
}

/** Binds each ciphertext to its row (see crypto/secrets.ts); the same context env values always had. */
export const variableContext = (projectId: string, name: string) => `project_env:${projectId}:${name}`;
