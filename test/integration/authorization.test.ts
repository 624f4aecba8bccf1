// Authorization on every route, with real users made through the admin API: alice owns a
// project, bob is a viewer there, carol an editor, dave has no role and the admin (who
// manages users) is no member either. The routes come from the OpenAPI document, so a new
// route fails this test until it says which role it needs here.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { type ApiResponse, api, startTestServer, type TestServer } from "../helpers/server.ts";

type Who = "dave" | "admin" | "bob" | "carol" | "alice";
type Role = "viewer" | "editor" | "owner";
/** Weakest first, so that every allowed attempt comes after the refused ones. */
const PEOPLE: Who[] = ["dave", "admin", "bob", "carol", "alice"];
const ROLE_OF: Record<Who, Role | null> = { dave: null, admin: null, bob: "viewer", carol: "editor", alice: "owner" };
const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

type Params = Record<string, string>;

interface Case {
  /** The weakest role that may use the route; "admin" for admin-only routes, "anyone" for every signed-in user,
   *  "creator" for what only the one who made it (alice) or an admin may change (environments). */
  needs: Role | "admin" | "anyone" | "creator";
  /** The status of an allowed attempt. */
  ok: number;
  query?: string;
  /** Sent by every attempt (refused ones must change nothing: it is aimed at the shared fixtures). */
  body?: unknown;
  /** For attempts that may succeed and would change the shared fixtures: their own parameters and body. */
  fresh?: () => Promise<{ params?: Params; body?: unknown }>;
  /** Routes anyone may call: the answer must mention the project (or its sandbox) only to its members. */
  shows?: true;
}

describe("authorization on every route", () => {
  let s: TestServer;
  const tokens = {} as Record<Who, string>;
  const ids = {} as Record<Who, string>;
  let project: { id: string; name: string };
  let box: { id: string; name: string };
  let idle: { id: string };
  let processId: string;
  let terminalId: string;
  let shareId: string;
  /** A conversation with the custom agent and its first run, over by the time the cases run. */
  let conversationId: string;
  let runId: string;
  /** Conversations whose runs sleep, for cancels that find a run still going. */
  let sleepyId: string;
  /** An environment alice made (installation-wide: no project role applies), built once. */
  const environment = "shared-env";
  let counter = 0;

  const as = (who: Who, method: string, path: string, body?: unknown) => api(s, method, path, { token: tokens[who], body });
  const ok = async (who: Who, method: string, path: string, body?: unknown, status = [200, 201, 202, 204]) => {
    const res = await as(who, method, path, body);
    assert.ok(status.includes(res.status), `${who}: ${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const newUser = async (name = `user${++counter}`) => (await ok("admin", "POST", "/api/v1/users", { name })) as { id: string; name: string };
  /** A project of alice's where bob is a viewer and carol an editor. */
  const sharedProject = async () => {
    const created = await ok("alice", "POST", "/api/v1/projects", { name: `proj${++counter}` });
    await ok("alice", "POST", `/api/v1/projects/${created.id}/members`, { userId: ids.bob, role: "viewer" });
    await ok("alice", "POST", `/api/v1/projects/${created.id}/members`, { userId: ids.carol, role: "editor" });
    return created as { id: string; name: string };
  };
  const sleeper = async () => (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/processes`, { command: ["sleep", "600"] })).id as string;

  before(async () => {
    s = await startTestServer("embedded", { databaseProvisioner: "managed" });
    tokens.admin = s.token;
    ids.admin = (await api(s, "GET", "/api/v1/users")).body.items.find((u: { isAdmin: boolean }) => u.isAdmin).id;
    for (const who of ["alice", "bob", "carol", "dave"] as const) {
      ids[who] = (await newUser(who)).id;
      tokens[who] = (await ok("admin", "POST", `/api/v1/users/${ids[who]}/tokens`, { name: "test" })).token;
    }
    project = await sharedProject();
    box = await runningSandbox({ url: s.url, token: tokens.alice }, project.id);
    idle = await ok("alice", "POST", `/api/v1/projects/${project.id}/sandboxes`);
    processId = await sleeper();
    terminalId = (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/terminals`)).id;
    shareId = (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/previews/3000/share`, { expiresInMinutes: 60 })).id;
    conversationId = (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/conversations`, { agent: "custom", command: "echo hi" })).id;
    runId = (await ok("alice", "POST", `/api/v1/conversations/${conversationId}/messages`, { text: "hi" })).run.id;
    for (;;) {
      const run = await ok("alice", "GET", `/api/v1/runs/${runId}`);
      if (["succeeded", "failed", "cancelled"].includes(run.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    sleepyId = (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/conversations`, { agent: "custom", command: "sleep 30" })).id;
    await ok("alice", "POST", `/api/v1/projects/${project.id}/database`);
    await ok("alice", "POST", "/api/v1/environments", { name: environment });
    await ok("alice", "POST", `/api/v1/environments/${environment}/builds`);
  });
  after(async () => s?.close());

  /** Which role each route needs, with what to send. Keyed by `METHOD /path` as in the OpenAPI document. */
  const CASES = (): Record<string, Case[]> => ({
    "POST /api/v1/login-links": [{ needs: "anyone", ok: 201 }],
    "GET /api/v1/me": [{ needs: "anyone", ok: 200 }],
    "POST /api/v1/projects": [{ needs: "anyone", ok: 201, fresh: async () => ({ body: { name: `mine${++counter}` } }) }],
    "GET /api/v1/projects": [{ needs: "anyone", ok: 200, shows: true }],
    "GET /api/v1/projects/{id}": [
      { needs: "viewer", ok: 200 },
      { needs: "editor", ok: 200, query: "?reveal=true" },
    ],
    "PATCH /api/v1/projects/{id}": [{ needs: "editor", ok: 200, body: { instructions: "Be tidy." } }],
    "DELETE /api/v1/projects/{id}": [{ needs: "owner", ok: 204, fresh: async () => ({ params: { id: (await sharedProject()).id } }) }],
    "GET /api/v1/projects/{id}/members": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/projects/{id}/egress": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/projects/{id}/usage": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/projects/{id}/secrets": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/projects/{id}/secrets": [
      {
        needs: "editor",
        ok: 200,
        body: { name: "SHARED_VAR", value: "pwned", kind: "secret" },
        fresh: async () => ({ body: { name: `VAR_${++counter}`, value: "v", kind: "secret" } }),
      },
    ],
    "DELETE /api/v1/projects/{id}/secrets/{name}": [
      {
        needs: "editor",
        ok: 204,
        fresh: async () => {
          const name = `GONE_${++counter}`;
          await ok("alice", "POST", `/api/v1/projects/${project.id}/secrets`, { name, value: "v", kind: "env" });
          return { params: { name } };
        },
      },
    ],
    "POST /api/v1/projects/{id}/members": [
      // Refused attempts try to make dave an owner.
      { needs: "owner", ok: 201, body: { userId: ids.dave, role: "owner" }, fresh: async () => ({ body: { userId: (await newUser()).id, role: "viewer" } }) },
    ],
    "DELETE /api/v1/projects/{id}/members/{userId}": [
      {
        needs: "owner",
        ok: 204,
        fresh: async () => {
          const user = await newUser();
          await ok("alice", "POST", `/api/v1/projects/${project.id}/members`, { userId: user.id, role: "viewer" });
          return { params: { userId: user.id } };
        },
      },
    ],
    "POST /api/v1/projects/{id}/sandboxes": [{ needs: "editor", ok: 201, fresh: async () => ({ params: { id: (await sharedProject()).id } }) }],
    "GET /api/v1/sandboxes": [
      { needs: "anyone", ok: 200, shows: true },
      { needs: "viewer", ok: 200, query: `?project=${project.id}` },
    ],
    "GET /api/v1/sandboxes/{id}": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/start": [{ needs: "editor", ok: 202, fresh: async () => ({ params: { id: idle.id } }) }],
    "POST /api/v1/sandboxes/{id}/stop": [{ needs: "editor", ok: 202, fresh: async () => ({ params: { id: idle.id } }) }],
    "POST /api/v1/sandboxes/{id}/restart": [{ needs: "editor", ok: 202, fresh: async () => ({ params: { id: idle.id } }) }],
    "DELETE /api/v1/sandboxes/{id}": [
      { needs: "editor", ok: 202, fresh: async () => ({ params: { id: (await ok("alice", "POST", `/api/v1/projects/${project.id}/sandboxes`)).id } }) },
    ],
    "POST /api/v1/sandboxes/{id}/exec": [
      { needs: "editor", ok: 200, body: { command: "echo pwned > /workspace/pwned" }, fresh: async () => ({ body: { command: "true" } }) },
    ],
    "POST /api/v1/sandboxes/{id}/processes": [
      { needs: "editor", ok: 201, body: { command: "echo pwned > /workspace/pwned" }, fresh: async () => ({ body: { command: ["true"] } }) },
    ],
    "GET /api/v1/sandboxes/{id}/processes": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/sandboxes/{id}/processes/{processId}": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/processes/{processId}/signal": [
      { needs: "editor", ok: 202, body: { signal: "SIGKILL" }, fresh: async () => ({ params: { processId: await sleeper() } }) },
    ],
    "GET /api/v1/sandboxes/{id}/processes/{processId}/logs": [{ needs: "viewer", ok: 200, query: "?follow=false" }],
    // A terminal is a shell in the sandbox: the role that runs commands, even to list them.
    // (The WebSocket upgrade of GET …/terminals/{tid} is checked in test/sandboxes/terminals.test.ts.)
    "POST /api/v1/sandboxes/{id}/terminals": [{ needs: "editor", ok: 201, body: { cols: 80, rows: 24 } }],
    "GET /api/v1/sandboxes/{id}/terminals": [{ needs: "editor", ok: 200 }],
    "GET /api/v1/sandboxes/{id}/terminals/{tid}": [{ needs: "editor", ok: 200 }],
    "DELETE /api/v1/sandboxes/{id}/terminals/{tid}": [
      { needs: "editor", ok: 204, fresh: async () => ({ params: { tid: (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/terminals`)).id } }) },
    ],
    "GET /api/v1/sandboxes/{id}/ports": [{ needs: "viewer", ok: 200 }],
    // A preview is a live connection into the sandbox: it needs the role that runs commands.
    "GET /api/v1/sandboxes/{id}/previews/{port}/open": [{ needs: "editor", ok: 303 }],
    "GET /api/v1/sandboxes/{id}/previews/{port}/share": [{ needs: "editor", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/previews/{port}/share": [{ needs: "editor", ok: 201, body: { expiresInMinutes: 5 } }],
    "DELETE /api/v1/sandboxes/{id}/previews/{port}/share/{shareId}": [
      {
        needs: "editor",
        ok: 204,
        fresh: async () => ({ params: { shareId: (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/previews/3000/share`, {})).id } }),
      },
    ],
    // Files: reads need a viewer, writes an editor. Refused attempts aim at paths that must
    // stay as they are; each allowed write makes (or changes) something of its own.
    "GET /api/v1/sandboxes/{id}/files": [{ needs: "viewer", ok: 200, query: "?path=/workspace" }],
    "GET /api/v1/sandboxes/{id}/files/content": [
      {
        needs: "viewer",
        ok: 200,
        query: "?path=auth-read.txt",
        fresh: async () => {
          await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/exec`, { command: "echo fixture > /workspace/auth-read.txt" });
          return {};
        },
      },
    ],
    "PUT /api/v1/sandboxes/{id}/files/content": [{ needs: "editor", ok: 200, query: "?path=auth-written.txt", body: "written" }],
    "DELETE /api/v1/sandboxes/{id}/files": [
      {
        needs: "editor",
        ok: 204,
        query: "?path=auth-delete.txt",
        fresh: async () => {
          await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/exec`, { command: "echo fixture > /workspace/auth-delete.txt" });
          return {};
        },
      },
    ],
    "POST /api/v1/sandboxes/{id}/files/mkdir": [
      { needs: "editor", ok: 201, body: { path: "pwned-dir" }, fresh: async () => ({ body: { path: `auth-dir-${++counter}` } }) },
    ],
    "POST /api/v1/sandboxes/{id}/files/move": [
      {
        needs: "editor",
        ok: 200,
        body: { from: "auth-read.txt", to: "pwned-moved" },
        fresh: async () => {
          const name = `auth-move-${++counter}`;
          await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/exec`, { command: `echo fixture > /workspace/${name}` });
          return { body: { from: name, to: `${name}-moved` } };
        },
      },
    ],
    "GET /api/v1/sandboxes/{id}/files/archive": [{ needs: "viewer", ok: 200, query: "?path=/workspace" }],
    "PUT /api/v1/sandboxes/{id}/files/archive": [{ needs: "editor", ok: 200, query: "?path=auth-unpacked" }],
    "GET /api/v1/sandboxes/{id}/files/watch": [{ needs: "viewer", ok: 200, query: "?path=/workspace&follow=false" }],
    "GET /api/v1/events": [
      { needs: "anyone", ok: 200, query: "?follow=false", shows: true },
      { needs: "viewer", ok: 200, query: `?follow=false&project=${project.id}` },
    ],
    "GET /api/v1/agents": [{ needs: "anyone", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/conversations": [{ needs: "editor", ok: 201, body: { agent: "custom", command: "echo pwned > /workspace/pwned" } }],
    "GET /api/v1/sandboxes/{id}/conversations": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/projects/{id}/conversations": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/conversations/{cid}": [{ needs: "viewer", ok: 200 }],
    "DELETE /api/v1/conversations/{cid}": [
      {
        needs: "editor",
        ok: 204,
        fresh: async () => ({
          params: { cid: (await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/conversations`, { agent: "custom", command: "true" })).id },
        }),
      },
    ],
    "POST /api/v1/conversations/{cid}/messages": [{ needs: "editor", ok: 202, body: { text: "hi" } }],
    "GET /api/v1/conversations/{cid}/events": [{ needs: "viewer", ok: 200, query: "?follow=false" }],
    "GET /api/v1/runs": [
      { needs: "anyone", ok: 200, shows: true },
      { needs: "viewer", ok: 200, query: `?project=${project.id}` },
    ],
    "GET /api/v1/runs/{rid}": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/runs/{rid}/events": [{ needs: "viewer", ok: 200, query: "?follow=false" }],
    "GET /api/v1/runs/{rid}/raw": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/runs/{rid}/cancel": [
      {
        needs: "editor",
        ok: 202,
        fresh: async () => ({ params: { rid: (await ok("alice", "POST", `/api/v1/conversations/${sleepyId}/messages`, { text: "sleep" })).run.id } }),
      },
    ],
    // The role is checked before the approval is looked up: an allowed person learns only that there is no such approval.
    "POST /api/v1/runs/{rid}/approvals/{aid}": [{ needs: "editor", ok: 404, body: { decision: "allow" } }],
    // Git: the box's workspace is a fresh `git init` (its project has no repository).
    "GET /api/v1/sandboxes/{id}/git/status": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/sandboxes/{id}/git/diff": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/sandboxes/{id}/git/log": [{ needs: "viewer", ok: 200 }],
    "GET /api/v1/sandboxes/{id}/git/branches": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/git/branches": [
      { needs: "editor", ok: 201, body: { name: "pwned" }, fresh: async () => ({ body: { name: `auth-${++counter}` } }) },
    ],
    // Allowed people learn that there is no such branch; nothing switches.
    "POST /api/v1/sandboxes/{id}/git/switch": [{ needs: "editor", ok: 404, body: { branch: "no-such-branch" } }],
    "POST /api/v1/sandboxes/{id}/git/commit": [
      {
        needs: "editor",
        ok: 201,
        body: { message: "pwned" },
        fresh: async () => {
          const name = `commit-${++counter}`;
          await ok("alice", "POST", `/api/v1/sandboxes/${box.id}/exec`, { command: `echo ${name} > /workspace/${name}.txt` });
          return { body: { message: name, paths: [`${name}.txt`] } };
        },
      },
    ],
    // No remote: allowed people are told so by git's own failure.
    "POST /api/v1/sandboxes/{id}/git/push": [{ needs: "editor", ok: 422, body: {} }],
    "POST /api/v1/sandboxes/{id}/git/fetch": [{ needs: "editor", ok: 422, body: {} }],
    "POST /api/v1/sandboxes/{id}/git/pull": [{ needs: "editor", ok: 422, body: {} }],
    "GET /api/v1/sandboxes/{id}/git/checkpoints": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/sandboxes/{id}/git/checkpoints": [{ needs: "editor", ok: 201, body: {} }],
    "GET /api/v1/sandboxes/{id}/git/checkpoints/{chk}/diff": [{ needs: "viewer", ok: 404 }],
    "POST /api/v1/sandboxes/{id}/git/checkpoints/{chk}/restore": [{ needs: "editor", ok: 404, body: {} }],
    "GET /api/v1/projects/{id}/git/deploy-key": [{ needs: "viewer", ok: 404 }],
    "POST /api/v1/projects/{id}/git/deploy-key": [{ needs: "editor", ok: 201, body: {} }],
    // The role is checked before the repository: an allowed person learns only that the project has no GitHub repository.
    "POST /api/v1/sandboxes/{id}/git/pull-request": [{ needs: "editor", ok: 409, body: { title: "pwned" } }],
    "GET /api/v1/sandboxes/{id}/git/pull-request": [{ needs: "viewer", ok: 409 }],
    // The project's database (made in before()). Allowed resets and deletes learn that the typed name is wrong; nothing is dropped.
    "GET /api/v1/projects/{id}/database": [
      { needs: "viewer", ok: 200 },
      { needs: "editor", ok: 200, query: "?reveal=true" },
    ],
    "POST /api/v1/projects/{id}/database": [{ needs: "editor", ok: 200 }],
    "POST /api/v1/projects/{id}/database/reset-password": [{ needs: "editor", ok: 200 }],
    "POST /api/v1/projects/{id}/database/reset": [{ needs: "editor", ok: 422, body: { confirm: "not-the-name" } }],
    "DELETE /api/v1/projects/{id}/database": [{ needs: "owner", ok: 422, query: "?confirm=not-the-name" }],
    // Its data: reading it is a viewer's where no secret shows, everything else an editor's.
    "GET /api/v1/projects/{id}/database/dump": [{ needs: "editor", ok: 200 }],
    "GET /api/v1/projects/{id}/database/tables": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/projects/{id}/database/query": [{ needs: "editor", ok: 200, body: { sql: "select 1" } }],
    // Allowed restores send a body psql refuses (a JSON string is not SQL): nothing is loaded.
    "POST /api/v1/projects/{id}/database/restore": [{ needs: "editor", ok: 422, body: "pwned" }],
    "GET /api/v1/projects/{id}/database/branches": [{ needs: "viewer", ok: 200 }],
    "POST /api/v1/projects/{id}/database/branches": [{ needs: "editor", ok: 201, body: {} }],
    // The typed name is checked first: allowed attempts learn it is wrong; nothing is promoted.
    "POST /api/v1/projects/{id}/database/branches/{dbid}/promote": [{ needs: "editor", ok: 422, body: { confirm: "x" } }],
    "DELETE /api/v1/projects/{id}/database/branches/{dbid}": [{ needs: "editor", ok: 404 }],
    // Kept databases are an admin's; allowed attempts learn that there is no such kept database.
    "GET /api/v1/databases": [{ needs: "admin", ok: 200 }],
    "POST /api/v1/databases/{dbid}/attach": [{ needs: "admin", ok: 404, body: { project: "proj1" } }],
    "DELETE /api/v1/databases/{dbid}": [{ needs: "admin", ok: 404, query: "?confirm=x" }],
    // Environments: anyone signed in reads them and makes one; only its creator or an admin
    // changes, builds or deletes it. Refused attempts aim at alice's shared one.
    "GET /api/v1/environments": [{ needs: "anyone", ok: 200 }],
    "POST /api/v1/environments": [{ needs: "anyone", ok: 201, fresh: async () => ({ body: { name: `env${++counter}` } }) }],
    "GET /api/v1/environments/{ref}": [{ needs: "anyone", ok: 200 }],
    "PATCH /api/v1/environments/{ref}": [{ needs: "creator", ok: 200, body: { maintenance: "echo pwned" }, fresh: async () => ({ body: { poolSize: 0 } }) }],
    "DELETE /api/v1/environments/{ref}": [
      {
        needs: "creator",
        ok: 204,
        fresh: async () => ({ params: { ref: (await ok("alice", "POST", "/api/v1/environments", { name: `gone${++counter}` })).name } }),
      },
    ],
    "POST /api/v1/environments/{ref}/builds": [{ needs: "creator", ok: 202 }],
    "GET /api/v1/environments/{ref}/builds/latest": [{ needs: "anyone", ok: 200 }],
    "GET /api/v1/users": [{ needs: "admin", ok: 200 }],
    "POST /api/v1/users": [{ needs: "admin", ok: 201, body: { name: "mallory" }, fresh: async () => ({ body: { name: `user${++counter}` } }) }],
    // Refused attempts try to mint a token for alice.
    "POST /api/v1/users/{id}/tokens": [{ needs: "admin", ok: 201, body: { name: "stolen" }, fresh: async () => ({ params: { id: (await newUser()).id } }) }],
  });

  test("each person gets exactly what their role allows on every route of the OpenAPI document", async () => {
    const doc = (await api(s, "GET", "/api/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const cases = CASES();
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.deepEqual(
      routes.filter((route) => !cases[route]),
      [],
      "routes without a case here: add one saying which role each needs",
    );
    assert.deepEqual(
      Object.keys(cases).filter((route) => !routes.includes(route)),
      [],
      "cases for routes that no longer exist",
    );

    const shared: Params = {
      processId,
      name: "SHARED_VAR",
      port: "3000",
      shareId,
      tid: terminalId,
      cid: conversationId,
      rid: runId,
      aid: "apr_nothing000000000",
      chk: "chk_nothing000000000",
      dbid: "db_nothing000000000",
    };
    for (const route of routes) {
      const [method, template] = route.split(" ") as [string, string];
      const own: Params = template.startsWith("/api/v1/users/")
        ? { id: ids.alice }
        : { id: template.startsWith("/api/v1/sandboxes/") ? box.id : project.id, userId: ids.bob, ref: environment };
      for (const c of cases[route] ?? []) {
        const label = `${route}${c.query ?? ""}`;
        for (const who of PEOPLE) {
          const allowed = mayUse(c.needs, who);
          const fresh = allowed && c.fresh ? await c.fresh() : {};
          const params = { ...shared, ...own, ...fresh.params };
          const body = "body" in fresh ? fresh.body : c.body;
          const url = `${fill(template, params)}${c.query ?? ""}`;
          const res = await as(who, method, url, body);
          const said = `${who} (${ROLE_OF[who] ?? "no role"}): ${label} → ${res.status} ${typeof res.body === "string" ? res.body.slice(0, 200) : JSON.stringify(res.body)}`;
          if (allowed) {
            assert.equal(res.status, c.ok, said);
            if (c.shows)
              assert.equal(text(res).includes(project.id) || text(res).includes(box.id), ROLE_OF[who] !== null, `${said}: shows the project to members only`);
          } else if (c.needs === "admin" || c.needs === "creator" || ROLE_OF[who] !== null) {
            assert.equal(res.status, 403, said);
            assert.equal(res.body.error.code, "FORBIDDEN", said);
            const hint = c.needs === "admin" ? /admin/ : c.needs === "creator" ? /creator/ : new RegExp(`--role ${c.needs}\\b`);
            assert.match(res.body.error.hint, hint, said);
          } else {
            // Indistinguishable from a reference to nothing at all.
            const nothing = url
              .replaceAll(project.id, "prj_nothing000000000")
              .replaceAll(box.id, "sbx_nothing000000000")
              .replaceAll(conversationId, "cnv_nothing000000000")
              .replaceAll(runId, "run_nothing000000000");
            const missing = await as("alice", method, nothing, body);
            assert.equal(res.status, 404, said);
            assert.deepEqual([res.body.error.code, res.body.error.hint], [missing.body.error.code, missing.body.error.hint], said);
          }
        }
      }
    }

    // What the refused attempts aimed at is as it was.
    assert.equal((await as("alice", "GET", `/api/v1/projects/${project.id}`)).status, 200);
    assert.deepEqual(
      ((await as("alice", "GET", `/api/v1/projects/${project.id}/members`)).body.items as { userId: string; role: string }[])
        .filter((m) => [ids.alice, ids.bob, ids.carol, ids.dave].includes(m.userId))
        .map((m) => [m.userId, m.role]),
      [
        [ids.alice, "owner"],
        [ids.bob, "viewer"],
        [ids.carol, "editor"],
      ],
    );
    assert.equal((await as("alice", "GET", `/api/v1/sandboxes/${box.id}`)).body.phase, "running");
    assert.equal((await as("alice", "GET", `/api/v1/projects/${project.id}/database`)).body.status, "ready", "refused resets and deletes left the database");
    assert.equal((await as("alice", "GET", `/api/v1/sandboxes/${box.id}/terminals/${terminalId}`)).status, 200, "refused deletes left the terminal running");
    const check = await as("alice", "POST", `/api/v1/sandboxes/${box.id}/exec`, { command: "test -e /workspace/pwned; echo $?" });
    assert.equal(check.body.stdout, "1\n", "no refused command ran");
    assert.equal((await as("alice", "GET", `/api/v1/sandboxes/${box.id}/processes/${processId}`)).body.status, "running");
    const shares = (await as("alice", "GET", `/api/v1/sandboxes/${box.id}/previews/3000/share`)).body.items as { id: string; createdBy: string }[];
    assert.ok(
      shares.some((share) => share.id === shareId),
      "refused revocations left the share",
    );
    assert.ok(
      shares.every((share) => [ids.alice, ids.carol].includes(share.createdBy)),
      "only editors and owners made shares",
    );
    const users = (await as("admin", "GET", "/api/v1/users")).body.items as { name: string }[];
    assert.ok(!users.some((u) => u.name === "mallory"), "refused user creations made nobody");
    const stored = (await as("alice", "GET", `/api/v1/environments/${environment}`)).body;
    assert.equal(stored.maintenance, null, "refused changes left the environment as it was");
  });

  test("environments answer UNAUTHENTICATED without a token, or with a wrong one", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/environments"],
      ["POST", "/api/v1/environments"],
      ["GET", `/api/v1/environments/${environment}`],
      ["PATCH", `/api/v1/environments/${environment}`],
      ["DELETE", `/api/v1/environments/${environment}`],
      ["POST", `/api/v1/environments/${environment}/builds`],
      ["GET", `/api/v1/environments/${environment}/builds/latest`],
    ] as const) {
      for (const token of [null, "opt_wrong"]) {
        const body = method === "GET" || method === "DELETE" ? undefined : { name: "intruder" };
        const res = await api(s, method, path, { token, body });
        assert.equal(res.status, 401, `${method} ${path} with ${token}`);
        assert.equal(res.body.error.code, "UNAUTHENTICATED");
      }
    }
    assert.equal((await as("alice", "GET", `/api/v1/environments/${environment}`)).status, 200, "still there");
    assert.equal((await as("alice", "GET", "/api/v1/environments/intruder")).status, 404, "nothing made");
  });

  test("a viewer sees env names, never values; an editor may reveal them", async () => {
    await ok("alice", "PATCH", `/api/v1/projects/${project.id}`, { env: { API_KEY: "sk-secret" } });
    assert.deepEqual((await as("bob", "GET", `/api/v1/projects/${project.id}`)).body.env, [{ name: "API_KEY" }]);
    assert.equal((await as("bob", "GET", `/api/v1/projects/${project.id}?reveal=true`)).status, 403);
    assert.deepEqual((await as("carol", "GET", `/api/v1/projects/${project.id}?reveal=true`)).body.env, [{ name: "API_KEY", value: "sk-secret" }]);
  });

  test("project names are unique per owner; a name two of your projects share is a 409 listing both ids", async () => {
    const again = await as("alice", "POST", "/api/v1/projects", { name: project.name });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "PROJECT_NAME_TAKEN");
    const bobs = await ok("bob", "POST", "/api/v1/projects", { name: project.name });
    assert.notEqual(bobs.id, project.id);

    const ambiguous = await as("bob", "GET", `/api/v1/projects/${project.name}`);
    assert.equal(ambiguous.status, 409);
    assert.equal(ambiguous.body.error.code, "PROJECT_NAME_AMBIGUOUS");
    assert.deepEqual([...ambiguous.body.error.details.ids].sort(), [project.id, bobs.id].sort());
    assert.match(ambiguous.body.error.hint, /id/);
    assert.equal((await as("bob", "GET", `/api/v1/projects/${bobs.id}`)).body.name, project.name, "the id always works");
    assert.equal((await as("alice", "GET", `/api/v1/projects/${project.name}`)).body.id, project.id, "alice sees only hers under that name");
    assert.equal((await as("dave", "GET", `/api/v1/projects/${project.name}`)).status, 404);

    // Sandbox names stay unique across everyone's projects of the same name.
    const theirs = await ok("bob", "POST", `/api/v1/projects/${bobs.id}/sandboxes`);
    assert.match(theirs.name, new RegExp(`^${project.name}-[a-z0-9]{6}$`));
    assert.notEqual(theirs.name, box.name);
    await ok("bob", "DELETE", `/api/v1/sandboxes/${theirs.id}`);
  });

  test("owners manage members; the last owner can be neither removed nor demoted", async () => {
    const p = await sharedProject();
    const members = `/api/v1/projects/${p.id}/members`;
    for (const [body, what] of [
      [null, "removed"],
      [{ userId: ids.alice, role: "editor" }, "demoted"],
    ] as const) {
      const res = body ? await as("alice", "POST", members, body) : await as("alice", "DELETE", `${members}/${ids.alice}`);
      assert.equal(res.status, 409, what);
      assert.equal(res.body.error.code, "PROJECT_LAST_OWNER", what);
    }
    const promoted = await as("alice", "POST", members, { userId: ids.carol, role: "owner" });
    assert.equal(promoted.status, 200, "a role change answers 200");
    assert.deepEqual([promoted.body.userId, promoted.body.name, promoted.body.role], [ids.carol, "carol", "owner"]);
    assert.equal((await as("carol", "DELETE", `${members}/${ids.alice}`)).status, 204, "with another owner, alice can go");
    assert.equal((await as("alice", "GET", `/api/v1/projects/${p.id}`)).status, 404, "and then the project looks missing to her");

    const nobody = await as("carol", "POST", members, { userId: "usr_nobody0000000000", role: "viewer" });
    assert.equal(nobody.status, 404);
    assert.equal(nobody.body.error.code, "USER_NOT_FOUND");
    const notMember = await as("carol", "DELETE", `${members}/${ids.dave}`);
    assert.equal(notMember.status, 404);
    assert.equal(notMember.body.error.code, "MEMBER_NOT_FOUND");
  });

  test("the events stream shows a project's events to its members only, for as long as they are members", async () => {
    const p = await sharedProject();
    await ok("carol", "PATCH", `/api/v1/projects/${p.id}`, { instructions: "x" });
    const eventsOf = async (who: Who) => text(await as(who, "GET", "/api/v1/events?follow=false")).includes(p.id);
    assert.deepEqual(await Promise.all(PEOPLE.map(eventsOf)), [false, false, true, true, true]);
    await ok("alice", "DELETE", `/api/v1/projects/${p.id}/members/${ids.bob}`);
    assert.equal(await eventsOf("bob"), false, "a former member no longer sees them");
    await ok("alice", "DELETE", `/api/v1/projects/${p.id}`);
    // Once the project is gone, so are its members: each still sees what they did themselves.
    const deleted = new RegExp(`"type":"project.deleted","projectId":"${p.id}"`);
    assert.match(text(await as("alice", "GET", "/api/v1/events?follow=false")), deleted, "whoever deleted a project sees that they did");
    const carols = text(await as("carol", "GET", "/api/v1/events?follow=false"));
    assert.match(carols, new RegExp(`"type":"project.updated","projectId":"${p.id}"`));
    assert.doesNotMatch(carols, deleted);
  });

  test("users: names are unique, a minted token works at once and is shown only once", async () => {
    const taken = await as("admin", "POST", "/api/v1/users", { name: "bob" });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, "USER_NAME_TAKEN");
    const minted = await ok("admin", "POST", "/api/v1/users/dave/tokens", { name: "laptop" });
    assert.equal(minted.userId, ids.dave, "a user is addressed by name too");
    assert.match(minted.token, /^opt_/);
    assert.equal((await api(s, "GET", "/api/v1/projects", { token: minted.token })).status, 200);
    const listed = JSON.stringify((await as("admin", "GET", "/api/v1/users")).body);
    assert.ok(!listed.includes(minted.token), "tokens are never listed");
    const bad = await as("admin", "POST", "/api/v1/users", { name: "usr_fake" });
    assert.equal(bad.status, 400, "a name cannot pass for an id");
  });
});

function mayUse(needs: Case["needs"], who: Who): boolean {
  if (needs === "anyone") return true;
  if (needs === "admin") return who === "admin";
  if (needs === "creator") return who === "admin" || who === "alice";
  const role = ROLE_OF[who];
  return role !== null && RANK[role] >= RANK[needs];
}

function fill(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no sample value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

const text = (res: ApiResponse) => (typeof res.body === "string" ? res.body : JSON.stringify(res.body));
