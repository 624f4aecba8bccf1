// Starts a real Outpost control plane for a test file, on a random port, against either
//   "embedded": the managed PostgreSQL in a fresh data dir, or
//   "external": a fresh database on the machine's PostgreSQL (127.0.0.1:5432, user postgres).
// Every integration test runs against both (see `forEachBackend`).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadSettings, type Settings } from "../../src/config/settings.ts";
import { randomLowerAlnum } from "../../src/domain/ids.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningServer, startServer } from "../../src/server.ts";

export type Backend = "embedded" | "external";
export const BACKENDS: Backend[] = ["embedded", "external"];

export const MACHINE_PG = process.env.OUTPOST_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432";

export interface TestServer {
  backend: Backend;
  url: string;
  token: string;
  dataDir: string;
  databaseUrl: string | undefined;
  server: RunningServer;
  settings: Settings;
  /** Stops the server and removes what the test created (data dir, database). */
  close(): Promise<void>;
}

export function tempDir(prefix = "outpost-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh database on the machine's PostgreSQL; returns its URL and a drop function. */
export async function freshMachineDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `outpost_test_${randomLowerAlnum(10)}`;
  const admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: `${MACHINE_PG}/${name}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export async function startTestServer(backend: Backend, overrides: Partial<Settings> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  const database = backend === "external" && !overrides.databaseUrl ? await freshMachineDatabase() : undefined;
  // No project databases unless a test asks (each server would run a second PostgreSQL): the
  // tests of databases choose their provisioner.
  const settings = loadSettings({}, { dataDir, port: 0, logLevel: "silent", databaseUrl: database?.url, databaseProvisioner: "none", ...overrides });
  // Events must reach open streams through NOTIFY alone: the safety re-read is pushed out of
  // any test's lifetime, so a broken LISTEN/NOTIFY shows up as a test that never finishes.
  const server = await startServer(settings, { logger: createLogger(process.env.OUTPOST_TEST_LOG ?? "silent"), eventsSafetyPollMs: 3_600_000 });
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  return {
    backend,
    url: server.url,
    token,
    dataDir,
    databaseUrl: settings.databaseUrl,
    server,
    settings,
    async close() {
      // Sandboxes outlive the control plane on purpose; a test must not leave any behind.
      await removeAllSandboxes(server);
      await server.close();
      await database?.drop();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Deletes every live sandbox through the driver and waits until each is gone. */
export async function removeAllSandboxes(server: RunningServer): Promise<void> {
  const { rows } = await server.pool.query<{ id: string }>("select id from sandboxes where phase <> 'deleted'").catch(() => ({ rows: [] as { id: string }[] }));
  await server.sandboxes.reconciler.stop();
  const signal = new AbortController().signal;
  // The driver releases each sandbox's host uid claim once nothing of it runs.
  for (const { id } of rows) await server.sandboxes.driver.remove(id, { keepWorkspace: false, signal, graceMs: 2000 }).catch(() => {});
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small fetch wrapper: JSON in, JSON (or text) out, the admin token by default. */
export async function api<T = any>(
  server: { url: string; token: string },
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const token = options.token === undefined ? server.token : options.token;
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(options.body);
  }
  // Redirects are answers to look at (e.g. a preview's open route), not to follow.
  const response = await fetch(`${server.url}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** A user who is not an admin, with an API token, made through the admin API. */
export async function createUser(server: { url: string; token: string }, name: string): Promise<{ id: string; token: string }> {
  const user = await api(server, "POST", "/api/v1/users", { body: { name } });
  if (user.status !== 201) throw new Error(`creating user ${name} failed: ${JSON.stringify(user.body)}`);
  const minted = await api(server, "POST", `/api/v1/users/${user.body.id}/tokens`, { body: { name: "test" } });
  if (minted.status !== 201) throw new Error(`minting a token for ${name} failed: ${JSON.stringify(minted.body)}`);
  return { id: user.body.id, token: minted.body.token };
}
