// The managed PostgreSQL outlives a killed control plane, is adopted by the next start,
// is recovered when it died, and is stopped by a graceful shutdown. Runs the built binary.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { packageRoot } from "../../src/package-root.ts";
import { adminToken, freePort, postmasterPid, spawnServe, waitForExit } from "../helpers/process.ts";
import { api, tempDir } from "../helpers/server.ts";

describe("the embedded database across control-plane restarts", () => {
  const dataDir = tempDir();
  const cleanup: (() => void)[] = [];
  after(async () => {
    for (const fn of cleanup) fn();
    const pid = postmasterPid(dataDir);
    if (pid) {
      process.kill(pid, "SIGINT");
      await waitForExit(pid);
    }
  });

  test("first start creates the database, an admin token (0600) and answers with projects", async () => {
    const serve = await spawnServe(dataDir);
    cleanup.push(() => serve.child.kill("SIGKILL"));
    const token = adminToken(dataDir);
    assert.equal(statSync(join(dataDir, "admin-token")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, "postgres", "password")).mode & 0o777, 0o600);
    assert.match(serve.output(), /login\?code=/);
    assert.equal((await api({ url: serve.url, token }, "POST", "/api/v1/projects", { body: { name: "before-kill" } })).status, 201);
    // The database listens on a unix socket in the data dir only, never on TCP.
    const client = new pg.Client({
      host: join(dataDir, "postgres", "run"),
      user: "postgres",
      database: "outpost",
      password: readFileSync(join(dataDir, "postgres", "password"), "utf8").trim(),
    });
    await client.connect();
    const { rows } = await client.query("show listen_addresses");
    await client.end();
    assert.equal(rows[0].listen_addresses, "");
    serve.child.kill("SIGTERM");
    assert.equal(await serve.exited, 0);
    assert.equal(postmasterPid(dataDir), null, "graceful shutdown stops the database");
  });

  test("kill -9 mid-request leaves the database running; the next start adopts it and loses no committed project", async () => {
    const first = await spawnServe(dataDir);
    cleanup.push(() => first.child.kill("SIGKILL"));
    const server = { url: first.url, token: adminToken(dataDir) };
    const dbPid = postmasterPid(dataDir);
    assert.ok(dbPid);

    // Fire a stream of creates and kill the control plane while they are in flight.
    const committed: string[] = [];
    const inflight = Array.from({ length: 40 }, (_, i) =>
      api(server, "POST", "/api/v1/projects", { body: { name: `kill-${i}` } }).then(
        (res) => res.status === 201 && committed.push(`kill-${i}`),
        () => false,
      ),
    );
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (committed.length >= 5) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    first.child.kill("SIGKILL");
    await first.exited;
    await Promise.all(inflight);
    assert.equal(postmasterPid(dataDir), dbPid, "the database survived the kill");

    const second = await spawnServe(dataDir);
    cleanup.push(() => second.child.kill("SIGKILL"));
    assert.match(second.output(), /adopted/);
    assert.equal(postmasterPid(dataDir), dbPid, "no second database server was started");
    const list = await api({ url: second.url, token: adminToken(dataDir) }, "GET", "/api/v1/projects?limit=500");
    const names = new Set(list.body.items.map((p: { name: string }) => p.name));
    for (const name of ["before-kill", ...committed]) assert.ok(names.has(name), `${name} survived`);
    // The store is consistent: every project has exactly one project.created event.
    const events = await api({ url: second.url, token: adminToken(dataDir) }, "GET", "/api/v1/events?follow=false");
    for (const name of names) {
      assert.equal(String(events.body).split(`"name":"${name}"`).length - 1, 1, `one created event for ${name}`);
    }
    second.child.kill("SIGTERM");
    await second.exited;
  });

  test("a second control plane on the same data dir is refused and the first keeps its database", async () => {
    const first = await spawnServe(dataDir);
    cleanup.push(() => first.child.kill("SIGKILL"));
    const dbPid = postmasterPid(dataDir);
    const second = spawnSync(process.execPath, [join(packageRoot(), "bin", "outpost.js"), "serve"], {
      env: { ...process.env, OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(await freePort()), OUTPOST_LOG_LEVEL: "warn" },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(second.status, 1);
    assert.match(second.stderr, /already running for this data dir/);
    assert.match(second.stderr, /fix: /);
    assert.equal(postmasterPid(dataDir), dbPid, "the database was left alone");
    const res = await api({ url: first.url, token: adminToken(dataDir) }, "GET", "/api/v1/projects/before-kill");
    assert.equal(res.status, 200);
    first.child.kill("SIGKILL");
    await first.exited;
  });

  test("a database that died is recovered by the next start", async () => {
    const first = await spawnServe(dataDir);
    cleanup.push(() => first.child.kill("SIGKILL"));
    first.child.kill("SIGKILL");
    await first.exited;
    const dbPid = postmasterPid(dataDir);
    assert.ok(dbPid);
    process.kill(dbPid, "SIGKILL");
    await waitForExit(dbPid);

    const second = await spawnServe(dataDir);
    cleanup.push(() => second.child.kill("SIGKILL"));
    assert.notEqual(postmasterPid(dataDir), dbPid);
    const res = await api({ url: second.url, token: adminToken(dataDir) }, "GET", "/api/v1/projects/before-kill");
    assert.equal(res.status, 200);
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
  });
});
