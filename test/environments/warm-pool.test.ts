// The warm pool (issue 20): sandboxes started ahead per environment serve the next creates
// (the sandbox is the pool's: adopted, already running, named with the pool's hostname); the
// pool refills; a pool counts against the installation's cap; a control plane killed
// mid-refill leaves no orphan, and the next one refills the pool. Host-image environments
// (no image to build) keep these tests fast; the pool is the same for images.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { adminToken, type ServeProcess, spawnServe } from "../helpers/process.ts";
import { deleteEverySandbox, exec, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

type Server = { url: string; token: string };

/** Polls the environment until its pool has `ready` members and none starting; bounded. */
async function warm(s: Server, environment: string, ready: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await api(s, "GET", `/api/v1/environments/${environment}`)).body;
    if (last?.warm?.ready === ready && last.warm.starting === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pool of ${environment} did not reach ${ready} ready within ${timeoutMs} ms: ${JSON.stringify(last?.warm)}`);
}

/** Sandbox folders the driver has (its list: those with a spec.json). */
function driverSandboxes(dataDir: string): string[] {
  const root = join(dataDir, "sandboxes");
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((name) => existsSync(join(root, name, "spec.json")));
}

describe("the warm pool serves creates and refills", () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer("embedded", { poolCheckMs: 500 });
    assert.equal((await api(s, "POST", "/api/v1/environments", { body: { name: "warm", poolSize: 2 } })).status, 201);
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "pooled", environment: "warm" } })).status, 201);
  });
  after(async () => {
    if (s) {
      await api(s, "PATCH", "/api/v1/environments/warm", { body: { poolSize: 0 } });
      await deleteEverySandbox(s);
      await warm(s, "warm", 0).catch(() => {});
    }
    await s?.close();
  });

  test("a create takes a warm sandbox: already running, adopted, with the pool's hostname; the pool refills", async () => {
    await warm(s, "warm", 2);
    const created = await api(s, "POST", "/api/v1/projects/pooled/sandboxes");
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.name, /^warm-[a-z0-9]{6}$/, "the pool's hostname");
    const box = await waitForPhase(s, created.body.id, ["running", "failed"]);
    assert.equal(box.phase, "running", JSON.stringify(box.error));
    const isolation = box.stages.find((stage: { name: string }) => stage.name === "isolation");
    assert.match(isolation.message, /^adopted/, "it was running before the create");
    const out = await exec(s, box.id, ["sh", "-c", "hostname; git -C /workspace rev-parse --is-inside-work-tree"]);
    assert.equal(out.stdout, `${box.name}\ntrue\n`);
    await warm(s, "warm", 2);
  });

  test("the pool counts against the installation's cap; a pool of 0 keeps none", async () => {
    const driverHas = driverSandboxes(s.settings.dataDir).length;
    const live = (await api(s, "GET", "/api/v1/sandboxes?limit=500")).body.items.length;
    assert.equal(driverHas, live + 2, "every driver sandbox is a sandbox or a pool member");
    assert.equal((await api(s, "PATCH", "/api/v1/environments/warm", { body: { poolSize: 0 } })).status, 200);
    await warm(s, "warm", 0);
    assert.equal(driverSandboxes(s.settings.dataDir).length, live);
    assert.equal((await api(s, "PATCH", "/api/v1/environments/warm", { body: { poolSize: 2 } })).status, 200);
    await warm(s, "warm", 2);
  });
});

describe("kill -9 mid-refill leaves no orphan, and the pool refills", () => {
  let dataDir: string;
  let serve: ServeProcess | undefined;
  let server: Server;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "outpost-pool-"));
    serve = await spawnServe(dataDir, { OUTPOST_POOL_CHECK_MS: "200" });
    server = { url: serve.url, token: adminToken(dataDir) };
  });
  after(async () => {
    if (serve) {
      await api(server, "PATCH", "/api/v1/environments/kept", { body: { poolSize: 0 } }).catch(() => {});
      await warm(server, "kept", 0).catch(() => {});
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("killed while members start; the next control plane removes what was half made and fills the pool", async () => {
    assert.equal((await api(server, "POST", "/api/v1/environments", { body: { name: "kept", poolSize: 3 } })).status, 201);
    // Killed as soon as the first member's sandbox exists on disk: the others are not made yet.
    const deadline = Date.now() + 60_000;
    while (driverSandboxes(dataDir).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const current = serve as ServeProcess;
    serve = undefined;
    current.child.kill("SIGKILL");
    await current.exited;

    serve = await spawnServe(dataDir, { OUTPOST_POOL_CHECK_MS: "200" });
    server = { url: serve.url, token: adminToken(dataDir) };
    await warm(server, "kept", 3);
    assert.equal(driverSandboxes(dataDir).length, 3, "exactly the pool's members: nothing left over from the kill");
  });
});
