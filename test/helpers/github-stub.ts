// A stand-in GitHub for tests: a real HTTP server on 127.0.0.1 speaking the part of the REST
// API (v3) pull requests use — create, list by head, update, get a pull request, and a
// commit's check runs — with GitHub's auth and header checks and its error shape
// (`{ message, documentation_url, errors? }`). It records every request, and a test can set
// a pull request merged or closed and give a commit check runs.
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GitHubStubRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status?: number;
}

export interface StubPull {
  number: number;
  owner: string;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  headSha: string;
  draft: boolean;
  state: "open" | "closed";
  merged: boolean;
  updatedAt: string;
}

export interface StubCheckRun {
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required" | null;
}

export interface GitHubStub {
  /** e.g. http://127.0.0.1:PORT: what OUTPOST_GITHUB_API_URL is set to. */
  url: string;
  token: string;
  readonly requests: GitHubStubRequest[];
  readonly pulls: StubPull[];
  /** Which sha a branch of owner/repo points at (the stub has no git: a test tells it). */
  setBranchSha(owner: string, repo: string, branch: string, sha: string): void;
  setPullState(number: number, state: "merged" | "closed" | "open"): void;
  setCheckRuns(sha: string, runs: StubCheckRun[]): void;
  stop(): Promise<void>;
}

const DOCS = "https://docs.github.com/rest";
const MAX_BODY = 1024 * 1024;

export interface GitHubStubOptions {
  token?: string;
  /** Where a branch points, e.g. read from a real remote (otherwise setBranchSha, or forty zeros). */
  branchSha?: (owner: string, repo: string, branch: string) => string | undefined;
}

export async function startGitHubStub(options: GitHubStubOptions = {}): Promise<GitHubStub> {
  const token = options.token ?? "ghp_stubtoken0123456789";
  const requests: GitHubStubRequest[] = [];
  const pulls: StubPull[] = [];
  const shas = new Map<string, string>();
  const checkRuns = new Map<string, StubCheckRun[]>();
  let next = 1;
  let origin = "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "x-github-media-type": "github.v3; format=json" });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, message: string, errors?: unknown[]) =>
    send(res, status, { message, documentation_url: DOCS, ...(errors ? { errors } : {}), status: String(status) });

  const pullJson = (pr: StubPull) => ({
    url: `${origin}/repos/${pr.owner}/${pr.repo}/pulls/${pr.number}`,
    html_url: `https://github.example/${pr.owner}/${pr.repo}/pull/${pr.number}`,
    number: pr.number,
    state: pr.state,
    title: pr.title,
    body: pr.body,
    draft: pr.draft,
    merged: pr.merged,
    merged_at: pr.merged ? pr.updatedAt : null,
    head: { ref: pr.head, sha: pr.headSha, label: `${pr.owner}:${pr.head}` },
    base: { ref: pr.base, label: `${pr.owner}:${pr.base}` },
    updated_at: pr.updatedAt,
  });
  const shaOf = (owner: string, repo: string, branch: string) =>
    shas.get(`${owner}/${repo}:${branch}`) ?? options.branchSha?.(owner, repo, branch) ?? "0".repeat(40);

  const route = (req: IncomingMessage, res: ServerResponse, record: GitHubStubRequest) => {
    const auth = String(req.headers.authorization ?? "");
    if (auth !== `Bearer ${token}` && auth !== `token ${token}`) return fail(res, 401, "Bad credentials");
    if (!String(req.headers.accept ?? "").includes("application/vnd.github+json")) {
      return fail(res, 415, "Unsupported 'Accept' header: send application/vnd.github+json");
    }
    const version = req.headers["x-github-api-version"];
    if (version !== undefined && version !== "2022-11-28") return fail(res, 400, `API version ${version} is not supported.`);

    const [, repos, owner, repo, kind, ...rest] = record.path.split("/");
    if (repos !== "repos" || !owner || !repo) return fail(res, 404, "Not Found");
    const body = (record.body ?? {}) as Record<string, unknown>;
    const now = new Date().toISOString();

    if (kind === "pulls" && rest.length === 0 && record.method === "POST") {
      const missing = ["title", "head", "base"].filter((field) => typeof body[field] !== "string" || !body[field]);
      if (missing.length) {
        return fail(
          res,
          422,
          "Validation Failed",
          missing.map((field) => ({ resource: "PullRequest", field, code: "missing_field" })),
        );
      }
      const head = String(body.head).replace(new RegExp(`^${owner}:`), "");
      if (head === body.base) return fail(res, 422, "Validation Failed", [{ resource: "PullRequest", code: "custom", message: "head and base are the same" }]);
      if (pulls.some((p) => p.owner === owner && p.repo === repo && p.head === head && p.base === body.base && p.state === "open")) {
        return fail(res, 422, "Validation Failed", [
          { resource: "PullRequest", code: "custom", message: `A pull request already exists for ${owner}:${head}.` },
        ]);
      }
      const pr: StubPull = {
        number: next++,
        owner,
        repo,
        title: String(body.title),
        body: typeof body.body === "string" ? body.body : "",
        head,
        base: String(body.base),
        headSha: shaOf(owner, repo, head),
        draft: body.draft === true,
        state: "open",
        merged: false,
        updatedAt: now,
      };
      pulls.push(pr);
      return send(res, 201, pullJson(pr));
    }
    if (kind === "pulls" && rest.length === 0 && record.method === "GET") {
      const state = record.query.state ?? "open";
      const head = record.query.head;
      const found = pulls.filter(
        (p) => p.owner === owner && p.repo === repo && (state === "all" || p.state === state) && (head === undefined || `${p.owner}:${p.head}` === head),
      );
      for (const p of found) p.headSha = shaOf(owner, repo, p.head);
      return send(res, 200, found.map(pullJson));
    }
    if (kind === "pulls" && rest.length === 1) {
      const pr = pulls.find((p) => p.owner === owner && p.repo === repo && String(p.number) === rest[0]);
      if (!pr) return fail(res, 404, "Not Found");
      if (pr.state === "open") pr.headSha = shaOf(owner, repo, pr.head);
      if (record.method === "GET") return send(res, 200, pullJson(pr));
      if (record.method === "PATCH") {
        if (typeof body.title === "string") pr.title = body.title;
        if (typeof body.body === "string") pr.body = body.body;
        if (typeof body.base === "string") pr.base = body.base;
        if (body.state === "closed" || body.state === "open") pr.state = body.state;
        pr.updatedAt = now;
        return send(res, 200, pullJson(pr));
      }
    }
    if (kind === "commits" && rest.length === 2 && rest[1] === "check-runs" && record.method === "GET") {
      const runs = checkRuns.get(rest[0] ?? "") ?? [];
      return send(res, 200, {
        total_count: runs.length,
        check_runs: runs.map((run, index) => ({ id: index + 1, name: run.name, head_sha: rest[0], status: run.status, conclusion: run.conclusion })),
      });
    }
    return fail(res, 404, "Not Found");
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return fail(res, 413, "Payload too large");
      chunks.push(chunk);
    }
    let body: unknown = null;
    if (size) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return fail(res, 400, "Problems parsing JSON");
      }
    }
    const record: GitHubStubRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
    };
    requests.push(record);
    res.once("finish", () => {
      record.status = res.statusCode;
    });
    route(req, res, record);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    token,
    requests,
    pulls,
    setBranchSha(owner, repo, branch, sha) {
      shas.set(`${owner}/${repo}:${branch}`, sha);
    },
    setPullState(number, state) {
      const pr = pulls.find((p) => p.number === number);
      if (!pr) throw new Error(`github stub: no pull request #${number}`);
      pr.state = state === "open" ? "open" : "closed";
      pr.merged = state === "merged";
      pr.updatedAt = new Date().toISOString();
    },
    setCheckRuns(sha, runs) {
      checkRuns.set(sha, runs);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
