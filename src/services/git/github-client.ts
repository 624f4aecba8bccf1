// GitHub's REST API (v3), the few calls pull requests need, over fetch from the host: the
// token is a project credential opened here and sent only to the configured API base (never
// into a sandbox). Every answer is size-bounded and every call has a deadline, so a slow or
// misbehaving GitHub (or GitHub Enterprise) costs one failed request, not a stuck server.
import { z } from "zod";
import type { Credential } from "../../domain/credentials.ts";
import { OutpostError } from "../../domain/errors.ts";
import type { GitHubCheckRun, GitHubPullRequest, GitHubRepository } from "../../domain/git/github.ts";

const API_VERSION = "2022-11-28";
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface GitHubClientOptions {
  /** e.g. https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise. */
  apiUrl: string;
  token: string;
  timeoutMs?: number;
  maxResponseBytes?: number;
  fetch?: typeof fetch;
}

const pullSchema = z
  .object({
    number: z.number().int().positive(),
    html_url: z.string().url(),
    state: z.enum(["open", "closed"]),
    draft: z.boolean().optional(),
    merged: z.boolean().optional(),
    merged_at: z.string().nullable().optional(),
    head: z.object({ ref: z.string(), sha: z.string() }).passthrough(),
    base: z.object({ ref: z.string() }).passthrough(),
    updated_at: z.string().optional(),
  })
  .passthrough();
const checkRunsSchema = z.object({ check_runs: z.array(z.object({ status: z.string(), conclusion: z.string().nullable() }).passthrough()) }).passthrough();
const errorSchema = z
  .object({ message: z.string().optional(), errors: z.array(z.union([z.string(), z.object({ message: z.string().optional() }).passthrough()])).optional() })
  .passthrough();

export interface NewPullRequest {
  title: string;
  body: string;
  head: string;
  base: string;
  draft: boolean;
}

export class GitHubClient {
  readonly #options: GitHubClientOptions;

  constructor(options: GitHubClientOptions) {
    this.#options = { ...options, apiUrl: options.apiUrl.replace(/\/+$/, "") };
  }

  /** The open pull request whose head is `branch` in the repository itself, if there is one. */
  async findOpen(repo: GitHubRepository, branch: string, signal?: AbortSignal): Promise<GitHubPullRequest | null> {
    const query = new URLSearchParams({ head: `${repo.owner}:${branch}`, state: "open", per_page: "10" });
    const list = z.array(pullSchema).parse(await this.#call("GET", `${repoPath(repo)}/pulls?${query}`, undefined, signal));
    return list.find((pr) => pr.head.ref === branch) ?? null;
  }

  async create(repo: GitHubRepository, pr: NewPullRequest, signal?: AbortSignal): Promise<GitHubPullRequest> {
    return pullSchema.parse(await this.#call("POST", `${repoPath(repo)}/pulls`, pr, signal));
  }

  async update(repo: GitHubRepository, number: number, fields: { title?: string; body?: string }, signal?: AbortSignal): Promise<GitHubPullRequest> {
    return pullSchema.parse(await this.#call("PATCH", `${repoPath(repo)}/pulls/${number}`, fields, signal));
  }

  async get(repo: GitHubRepository, number: number, signal?: AbortSignal): Promise<GitHubPullRequest> {
    return pullSchema.parse(await this.#call("GET", `${repoPath(repo)}/pulls/${number}`, undefined, signal));
  }

  /** The check runs on a commit (the first 100: enough to count, a PR rarely has more). */
  async checkRuns(repo: GitHubRepository, sha: string, signal?: AbortSignal): Promise<GitHubCheckRun[]> {
    if (!/^[0-9a-f]{7,64}$/.test(sha)) throw new OutpostError("GITHUB_API_FAILED", `GitHub gave a head commit that is not a sha: ${sha.slice(0, 80)}`);
    return checkRunsSchema.parse(await this.#call("GET", `${repoPath(repo)}/commits/${sha}/check-runs?per_page=100`, undefined, signal)).check_runs;
  }

  async #call(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const url = `${this.#options.apiUrl}${path}`;
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(url, {
        method,
        headers: {
          accept: "application/vnd.github+json",
          authorization: `Bearer ${this.#options.token}`,
          "x-github-api-version": API_VERSION,
          "user-agent": "outpost",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A redirect could carry the token somewhere else: GitHub's API answers in place.
        redirect: "error",
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      const reason = timeout.aborted ? `no answer within ${this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : (error as Error).message;
      throw new OutpostError("GITHUB_API_FAILED", `Could not reach GitHub at ${this.#options.apiUrl}: ${reason}.`, { cause: error });
    }
    const text = await readBounded(response, this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = undefined;
    }
    if (!response.ok) throw apiError(method, path, response.status, json);
    if (json === undefined) throw new OutpostError("GITHUB_API_FAILED", `GitHub answered ${method} ${path} with something that is not JSON.`);
    return json;
  }
}

/** The token a project opens pull requests with: its configured credential, else GITHUB_TOKEN, else GH_TOKEN. */
export function githubToken(credentials: readonly Credential[], tokenVariable?: string): { name: string; value: string } | null {
  const names = tokenVariable ? [tokenVariable] : ["GITHUB_TOKEN", "GH_TOKEN"];
  for (const name of names) {
    const found = credentials.find((c) => c.name === name);
    if (found?.value) return { name, value: found.value };
  }
  return null;
}

export function tokenMissing(project: { name: string }, tokenVariable?: string): OutpostError {
  const name = tokenVariable ?? "GITHUB_TOKEN";
  return new OutpostError(
    "GITHUB_TOKEN_MISSING",
    `Project '${project.name}' has no ${name} credential: a project with only a deploy key needs a token credential to open pull requests.`,
    { details: { variable: name }, fix: `Set one: \`outpost secret set ${project.name} ${name} --kind credential\` (a token with pull request write access).` },
  );
}

const repoPath = (repo: GitHubRepository): string => `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.repo)}`;

function apiError(method: string, path: string, status: number, json: unknown): OutpostError {
  const parsed = errorSchema.safeParse(json);
  const message = parsed.success && parsed.data.message ? parsed.data.message : `HTTP ${status}`;
  const details = (parsed.success ? (parsed.data.errors ?? []) : [])
    .map((e) => (typeof e === "string" ? e : (e.message ?? "")))
    .filter(Boolean)
    .slice(0, 5);
  const said = details.length ? `${message} (${details.join("; ")})` : message;
  const who = status === 401 ? " — the token was refused" : status === 404 ? " — no such repository, or the token cannot see it" : "";
  return new OutpostError("GITHUB_API_FAILED", `GitHub answered ${status} to ${method} ${path.split("?")[0]}: ${said}${who}.`, {
    details: { status },
  });
}

/** The response's text, refusing more than `max` bytes (an answer that size is not GitHub's). */
async function readBounded(response: Response, max: number): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    // Leaving the loop cancels the body (the iterator's return()).
    if (size > max) {
      throw new OutpostError("GITHUB_API_FAILED", `GitHub's answer was over ${max} bytes; refused.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
