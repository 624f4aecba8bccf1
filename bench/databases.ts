// The `databases` group (issue 19): what a project's PostgreSQL database costs on the
// managed provisioner (the second embedded PostgreSQL 15 server, <data dir>/projects-postgres).
// In one run, on the built control plane (`node bin/outpost.js serve`, fresh data dir):
//   time    POST /projects/{id}/database until it answers (ready: role, database, CONNECT
//           revoked, limits), per project; the first one separately (it may start the server),
//           next to a bare `CREATE DATABASE` as the superuser on the same server
//   memory  PSS of the server's processes (postmaster and its children, from
//           /proc/<pid>/smaps_rollup) with no project database, with N idle ones, and with
//           one idle connection to each as its own role (a sandbox's dev server holds one)
//   disk    pg_database_size of a fresh project database
// OUTPOST_BENCH_DATABASES: N (default 20). Everything started is stopped, also on failure.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { mb, ms, ratio, table, timing } from "./lib/format.ts";
import { benchDataDir, startTimed, stopGracefully } from "./lib/outpost.ts";
import { commandLine, isAlive, type TreeMemory, treeMemory } from "./lib/proc.ts";
import { summarize } from "./lib/stats.ts";

export const DATABASES_OPTION_ENV = ["OUTPOST_BENCH_DATABASES"];

export interface DatabasesResults {
  n: number;
  serverVersion?: string;
  /** POST …/database of the first project (may include starting the server), ms. */
  firstMs?: number;
  /** The same for every later project, ms. */
  apiMs: number[];
  /** A bare CREATE DATABASE as the superuser on the same server, ms. */
  bareMs: number[];
  memory: { empty?: TreeMemory; idle?: TreeMemory; connected?: TreeMemory };
  databaseBytes?: number;
  failures: string[];
}

const SETTLE_MS = 1_000;

export function databasesBenchOptions(): { n: number } {
  const n = Number(process.env.OUTPOST_BENCH_DATABASES ?? 20);
  if (!Number.isInteger(n) || n < 2 || n > 500) throw new Error("OUTPOST_BENCH_DATABASES must be an integer from 2 to 500");
  return { n };
}

/** The projects server's postmaster, when it runs on this data dir (checked against its command line). */
function projectsPostmaster(dataDir: string): number | undefined {
  const pgData = join(dataDir, "projects-postgres", "data");
  const pidFile = join(pgData, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 1 && isAlive(pid) && commandLine(pid).includes(pgData) ? pid : undefined;
}

/** The server's memory once its background processes settled. */
async function serverMemory(dataDir: string): Promise<TreeMemory> {
  await sleep(SETTLE_MS);
  const pid = projectsPostmaster(dataDir);
  if (pid === undefined) throw new Error("the project databases' server is not running");
  return treeMemory(pid);
}

export async function benchDatabases(options: { n: number }, progress: (line: string) => void): Promise<DatabasesResults> {
  const results: DatabasesResults = { n: options.n, apiMs: [], bareMs: [], memory: {}, failures: [] };
  const dataDir = benchDataDir("outpost-bench-db-");
  // The control plane stops its projects server on a graceful stop; after a failure it may not.
  deferCleanup("the project databases' server", async () => {
    const pid = projectsPostmaster(dataDir);
    if (pid === undefined) return;
    process.kill(pid, "SIGINT");
    for (let i = 0; i < 300 && isAlive(pid); i++) await sleep(50);
  });
  const { plane } = await startTimed(dataDir, { OUTPOST_DATABASE_PROVISIONER: "managed" });
  const stopPlane = deferCleanup("control plane", () => stopGracefully(plane).then(() => {}));
  const api = new OutpostApi(plane.url, readFileSync(join(dataDir, "admin-token"), "utf8").trim());
  const connections: pg.Client[] = [];
  let admin: pg.Client | undefined;
  try {
    progress(`${options.n} projects, each with its database through the API`);
    const logins: { connectionString: string; name: string }[] = [];
    for (let i = 0; i < options.n; i++) {
      const project = await api.expect<{ id: string }>(201, "POST", "/api/v1/projects", { name: `bench-db-${i}` });
      const started = performance.now();
      const made = await api.expect<{ status: string; name: string; serverVersion: string; sizeBytes: number }>(
        201,
        "POST",
        `/api/v1/projects/${project.id}/database`,
      );
      const took = performance.now() - started;
      if (made.status !== "ready") throw new Error(`project ${i}'s database is ${made.status}`);
      if (i === 0) {
        results.firstMs = took;
        results.serverVersion = made.serverVersion;
        results.databaseBytes = made.sizeBytes;
        // Measured here, before any project database has a connection; the ones made already cost ~nothing idle.
      } else results.apiMs.push(took);
      const revealed = await api.expect<{ connectionString: string }>(200, "GET", `/api/v1/projects/${project.id}/database?reveal=true`);
      logins.push({ connectionString: revealed.connectionString, name: made.name });
    }

    // The bare baseline on the same server, as its superuser (the password file initdb got).
    const serverDir = join(dataDir, "projects-postgres");
    admin = new pg.Client({
      host: join(serverDir, "run"),
      port: 5432,
      user: "postgres",
      database: "postgres",
      password: readFileSync(join(serverDir, "password"), "utf8").trim(),
    });
    await admin.connect();
    progress(`${options.n} bare CREATE DATABASE on the same server`);
    for (let i = 0; i < options.n; i++) {
      const started = performance.now();
      await admin.query(`create database bench_bare_${i}`);
      results.bareMs.push(performance.now() - started);
    }
    for (let i = 0; i < options.n; i++) await admin.query(`drop database bench_bare_${i}`);
    await admin.end();
    admin = undefined;

    progress("memory: the server with the project databases idle");
    results.memory.idle = await serverMemory(dataDir);
    progress("memory: one idle connection to each, as its own role");
    for (const login of logins) {
      const url = new URL(login.connectionString);
      const client = new pg.Client({
        host: join(serverDir, "run"),
        port: 5432,
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: login.name,
      });
      client.on("error", () => {});
      await client.connect();
      await client.query("select 1");
      connections.push(client);
    }
    results.memory.connected = await serverMemory(dataDir);
    for (const client of connections.splice(0)) await client.end();

    progress("memory: the server with no project database (all dropped)");
    for (let i = 0; i < options.n; i++) {
      const project = `bench-db-${i}`;
      await api.expect(204, "DELETE", `/api/v1/projects/${project}/database?confirm=${project}`);
    }
    results.memory.empty = await serverMemory(dataDir);
  } catch (error) {
    results.failures.push((error as Error).message);
  } finally {
    for (const client of connections) await client.end().catch(() => {});
    await admin?.end().catch(() => {});
    await stopGracefully(plane).catch((error: Error) => results.failures.push(`stopping the control plane: ${error.message}`));
    stopPlane();
  }
  return results;
}

export function databasesReport(results: DatabasesResults, seconds: number): string {
  const lines = [`\nproject databases, managed provisioner (PostgreSQL ${results.serverVersion ?? "?"}; ${results.n} projects; ${seconds.toFixed(0)} s)`];
  if (results.apiMs.length && results.bareMs.length) {
    const api = summarize(results.apiMs);
    const bare = summarize(results.bareMs);
    lines.push(
      table([
        ["", "median (min–max)", "p90", "vs bare"],
        ["POST …/database → ready", timing(api), ms(api.p90), ratio(api.median, bare.median)],
        ["  the first one", results.firstMs === undefined ? "–" : ms(results.firstMs), "", ""],
        ["bare CREATE DATABASE", timing(bare), ms(bare.p90), "×1"],
      ]),
    );
  }
  const { empty, idle, connected } = results.memory;
  if (empty && idle && connected) {
    const n = results.n;
    lines.push(
      table([
        ["server memory", "PSS", "processes", "per project"],
        ["no project database", mb(empty.pssKb), String(empty.processes), ""],
        [`${n} idle databases`, mb(idle.pssKb), String(idle.processes), mb((idle.pssKb - empty.pssKb) / n)],
        [`${n} with one idle connection each`, mb(connected.pssKb), String(connected.processes), mb((connected.pssKb - empty.pssKb) / n)],
      ]),
    );
  }
  if (results.databaseBytes !== undefined) lines.push(`  disk: a fresh project database is ${mb(results.databaseBytes / 1024)} (pg_database_size)`);
  for (const failure of results.failures) lines.push(`  FAILED: ${failure}`);
  return `${lines.join("\n")}\n`;
}
