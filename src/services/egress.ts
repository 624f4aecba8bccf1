// Egress as use cases: what the proxy and the model gateway need to know of a sandbox
// (its project's policy, credentials and budget), and what users read back (the record of
// connections, model usage against the budget).
import type pg from "pg";
import type { Principal } from "../domain/authorization.ts";
import type { Credential } from "../domain/credentials.ts";
import type { EgressPolicy } from "../domain/egress-policy.ts";
import { repoEndpoint } from "../domain/git/repo-url.ts";
import { gitSettings } from "../domain/git/settings.ts";
import { type EgressRow, egressIdBeforeLast, findSandboxEgress, listEgress, type SandboxEgressRow } from "../store/egress.ts";
import { insertUsage, tokensSince, type UsageRecord, type UsageTotals, usageSince } from "../store/usage.ts";
import { resolveProject } from "./project-access.ts";
import type { VariableService } from "./variables.ts";

/** A sandbox as the proxy sees it, read fresh for every connection (a policy change applies to the next one). */
export interface SandboxEgress {
  sandboxId: string;
  sandboxName: string;
  projectId: string;
  projectName: string;
  ownerId: string;
  policy: EgressPolicy;
  tokenBudget: number | null;
  credentials: Credential[];
  /** The project's repository: its host:port is allowed implicitly (the proxy adds it to the policy). */
  repoUrl: string | null;
  /** The project's git settings (projects.git): pinned host keys, token variable, identity. */
  git: SandboxEgressRow["git"];
  /** With a deploy key in its agent, the sandbox may speak SSH only to its repository. */
  hasDeployKey: boolean;
}

export interface UsageSummary {
  /** The calendar month (UTC) the totals and the budget count: "2026-11". */
  month: string;
  since: Date;
  totals: UsageTotals[];
  totalTokens: number;
  tokenBudget: number | null;
  remainingTokens: number | null;
}

export type { EgressRow, UsageRecord };

/**
 * How long a sandbox's context is reused without asking the database. Changes made through
 * this process clear it at once (ProjectChanges), and any event NOTIFY clears it too
 * (another replica's change): this bounds staleness only when a notification is lost.
 */
const CONTEXT_TTL_MS = 5000;

export class EgressService {
  readonly #contexts = new Map<string, { at: number; value: Promise<SandboxEgress | null> }>();
  /** Build sandboxes of environments (services/environments/builder.ts), while they run. */
  readonly #builds = new Map<string, SandboxEgress>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly variables: VariableService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Null when the sandbox is gone (its connections are refused). Read per connection, from a short-lived cache. */
  sandboxContext(sandboxId: string): Promise<SandboxEgress | null> {
    const build = this.#builds.get(sandboxId);
    if (build) return Promise.resolve(build);
    const at = this.now().getTime();
    const cached = this.#contexts.get(sandboxId);
    if (cached && at - cached.at < CONTEXT_TTL_MS) return cached.value;
    const value = this.#load(sandboxId);
    this.#contexts.set(sandboxId, { at, value });
    // A failed read is not kept: the next connection asks again.
    value.catch(() => this.#contexts.delete(sandboxId));
    return value;
  }

  /** Lets an environment's build sandbox out under the setup phase's policy, until the
   *  returned function is called. It belongs to no project: no credentials, no repository,
   *  no model budget, and its connections are not recorded (projectId ""). */
  allowBuild(sandboxId: string, policy: EgressPolicy): () => void {
    this.#builds.set(sandboxId, {
      sandboxId,
      sandboxName: "setup",
      projectId: "",
      projectName: "(environment build)",
      ownerId: "",
      policy,
      tokenBudget: 0,
      credentials: [],
      repoUrl: null,
      git: {},
      hasDeployKey: false,
    });
    return () => this.#builds.delete(sandboxId);
  }

  /** Forget every cached context (a project changed, here or on another replica). */
  invalidate(): void {
    this.#contexts.clear();
  }

  async #load(sandboxId: string): Promise<SandboxEgress | null> {
    const row = await findSandboxEgress(this.pool, sandboxId);
    if (!row) return null;
    const credentials = withRepositoryToken(await this.variables.credentials(row.projectId), row.repoUrl, gitSettings(row.git).tokenVariable);
    return { ...row, policy: row.egress, credentials };
  }

  async log(principal: Principal, ref: string, query: { afterId: number; limit: number }): Promise<{ projectId: string; items: EgressRow[] }> {
    const project = await resolveProject(this.pool, principal, ref, "project.read");
    return { projectId: project.id, items: await listEgress(this.pool, project.id, query.afterId, query.limit) };
  }

  /** Rows of an already authorized project (for a stream that re-reads). */
  more(projectId: string, afterId: number, limit: number): Promise<EgressRow[]> {
    return listEgress(this.pool, projectId, afterId, limit);
  }

  async usage(principal: Principal, ref: string): Promise<UsageSummary> {
    const project = await resolveProject(this.pool, principal, ref, "project.read");
    const since = monthStart(this.now());
    const totals = await usageSince(this.pool, project.id, since);
    const totalTokens = totals.reduce((sum, t) => sum + t.inputTokens + t.outputTokens + t.cacheReadTokens + t.cacheWriteTokens, 0);
    const budget = project.tokenBudget;
    return {
      month: since.toISOString().slice(0, 7),
      since,
      totals,
      totalTokens,
      tokenBudget: budget,
      remainingTokens: budget === null ? null : Math.max(0, budget - totalTokens),
    };
  }

  /** Tokens the project used this month (what its budget counts). */
  tokensThisMonth(projectId: string): Promise<number> {
    return tokensSince(this.pool, projectId, monthStart(this.now()));
  }

  recordUsage(record: UsageRecord): Promise<void> {
    return insertUsage(this.pool, record);
  }

  /** The record id after which a project's last `count` records follow (0: fewer exist). */
  async startOfLast(principal: Principal, ref: string, count: number): Promise<number> {
    const project = await resolveProject(this.pool, principal, ref, "project.read");
    return egressIdBeforeLast(this.pool, project.id, count);
  }
}

export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/**
 * The project's git token goes to its repository's host as HTTP Basic (what git sends), on
 * top of the credential's own rules: git in the sandbox clones, fetches and pushes with no
 * credential of its own, and the proxy puts the token in for that one host.
 */
export function withRepositoryToken(credentials: Credential[], repoUrl: string | null, tokenVariable: string): Credential[] {
  const endpoint = repoUrl ? repoEndpoint(repoUrl) : null;
  if (!endpoint || endpoint.transport === "ssh") return credentials;
  return credentials.map((credential) => {
    if (credential.name !== tokenVariable || credential.inject.some((rule) => rule.host === endpoint.host && rule.header === "authorization"))
      return credential;
    return { ...credential, inject: [...credential.inject, { host: endpoint.host, header: "authorization", format: "basic" as const }] };
  });
}
