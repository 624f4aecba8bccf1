// The reconciler against an in-memory driver, a fake clock and a real PostgreSQL (the
// machine's, a fresh database per file): every rule of the issue as a test, no sleeps.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import pg from "pg";
import pino from "pino";
import { freshStages } from "../../src/domain/sandbox-lifecycle.ts";
import { Reconciler } from "../../src/reconciler/reconciler.ts";
import { migrate } from "../../src/store/migrate.ts";
import * as store from "../../src/store/sandboxes.ts";
import { freshMachineDatabase } from "../helpers/server.ts";
import { FakeClock, MemoryDriver } from "./memory-driver.ts";

const log = pino({ level: "silent" });
const reconcilers: Reconciler[] = [];
let database: Awaited<ReturnType<typeof freshMachineDatabase>>;
let pool: pg.Pool;
let counter = 0;

before(async () => {
  database = await freshMachineDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 10 });
  // Idle connections are terminated when the database is dropped at the end.
  pool.on("error", () => {});
  await migrate(pool);
  await pool.query("insert into users (id, name) values ('usr_r', 'r')");
  await pool.query("insert into projects (id, owner_id, name) values ('prj_r', 'usr_r', 'r')");
});
after(async () => {
  for (const reconciler of reconcilers) await reconciler.stop();
  await pool?.end();
  await database?.drop();
});

async function newSandbox(): Promise<string> {
  counter += 1;
  const id = `sbx_r${counter}`;
  await store.insertSandbox(pool, { id, projectId: "prj_r", ownerId: "usr_r", name: `r-${counter}`, driver: "local", stages: freshStages(["compute"]) });
  return id;
}

const row = async (id: string) => (await store.getSandbox(pool, id))!;
const verb = (id: string, desired: "running" | "stopped" | "deleted") => store.setDesired(pool, id, desired);

interface Bed {
  driver: MemoryDriver;
  clock: FakeClock;
  reconciler: Reconciler;
  settle(id: string): Promise<void>;
}

function bed(options: { driver?: MemoryDriver; clock?: FakeClock; holder?: string; orphanGraceMs?: number; maxSandboxes?: number } = {}): Bed {
  const driver = options.driver ?? new MemoryDriver();
  const clock = options.clock ?? new FakeClock();
  const reconciler = new Reconciler({
    pool,
    driver,
    log,
    clock,
    holder: options.holder ?? `test:${counter}:${Math.random()}`,
    resyncMs: 60_000,
    orphanGraceMs: options.orphanGraceMs ?? 600_000,
    backoff: { baseMs: 1000, capMs: 60_000 },
    ...(options.maxSandboxes ? { capacity: { maxSandboxes: options.maxSandboxes, maxMemoryBytes: Number.MAX_SAFE_INTEGER } } : {}),
  });
  reconcilers.push(reconciler);
  return {
    driver,
    clock,
    reconciler,
    async settle(id) {
      reconciler.wake(id);
      await reconciler.idle(id);
    },
  };
}

describe("reconciler", () => {
  let b: Bed;
  beforeEach(() => {
    b = bed();
  });

  test("a new sandbox is provisioned: stages, phase running, driver state recorded", async () => {
    const id = await newSandbox();
    await b.settle(id);
    const current = await row(id);
    assert.equal(current.phase, "running");
    assert.deepEqual(
      current.stages.map((s) => [s.name, s.state]),
      [
        ["compute", "done"],
        ["ready", "done"],
      ],
    );
    assert.deepEqual(current.driverState, { memory: true });
    assert.equal(current.actedGeneration, current.generation);
  });

  test("a start on a failed sandbox is acted on (a new generation always is)", async () => {
    const id = await newSandbox();
    b.driver.script.ensure.push({ fail: "BWRAP_MISSING" });
    await b.settle(id);
    assert.equal((await row(id)).phase, "failed");
    assert.equal((await row(id)).error?.retryable, false, "a missing bubblewrap is not retried by itself");
    await b.settle(id);
    assert.equal(b.driver.count("ensure", id), 1, "a failed sandbox waits for the user");
    await verb(id, "running");
    await b.settle(id);
    assert.equal((await row(id)).phase, "running");
    assert.equal(b.driver.count("ensure", id), 2);
  });

  test("a retryable failure backs off, shows its next attempt, and is retried when it is due", async () => {
    const id = await newSandbox();
    b.driver.script.ensure.push({ fail: "SUPERVISOR_NOT_READY" }, { fail: "SUPERVISOR_NOT_READY" });
    await b.settle(id);
    const first = await row(id);
    assert.equal(first.phase, "failed");
    assert.equal(first.error?.code, "SUPERVISOR_NOT_READY");
    assert.equal(first.error?.retryable, true);
    assert.ok(first.error?.hint);
    const firstDelay = Date.parse(first.error?.nextAttemptAt ?? "") - b.clock.now();
    assert.ok(firstDelay >= 500 && firstDelay <= 1000, `first retry within the first backoff step: ${firstDelay}`);
    // A wake-up before it is due does not retry early.
    await b.settle(id);
    assert.equal(b.driver.count("ensure", id), 1);
    b.clock.advance(firstDelay);
    await b.reconciler.idle(id);
    const second = await row(id);
    assert.equal(b.driver.count("ensure", id), 2);
    assert.equal(second.attempts, 2);
    const secondDelay = Date.parse(second.error?.nextAttemptAt ?? "") - b.clock.now();
    assert.ok(secondDelay >= 1000 && secondDelay <= 2000, `the second waits longer: ${secondDelay}`);
    b.clock.advance(secondDelay);
    await b.reconciler.idle(id);
    assert.equal((await row(id)).phase, "running");
    assert.equal((await row(id)).nextAttemptAt, null);
  });

  test("a stopped sandbox whose compute came back is stopped again", async () => {
    const id = await newSandbox();
    await b.settle(id);
    await verb(id, "stopped");
    await b.settle(id);
    assert.equal((await row(id)).phase, "stopped");
    b.driver.boxes.set(id, { state: "running" });
    await b.settle(id);
    assert.equal(b.driver.boxes.get(id)?.state, "stopped");
    assert.equal(b.driver.count("stop", id), 2);
  });

  test("a failed stop is retried with backoff, not every resync", async () => {
    const id = await newSandbox();
    await b.settle(id);
    b.driver.script.stop.push({ fail: "SANDBOX_STOP_FAILED" });
    await verb(id, "stopped");
    await b.settle(id);
    const failed = await row(id);
    assert.equal(failed.phase, "failed");
    assert.ok(failed.error?.nextAttemptAt, "a stop is always retried");
    await b.reconciler.resync();
    await b.reconciler.idle(id);
    assert.equal(b.driver.count("stop", id), 1, "the resync does not retry before it is due");
    b.clock.advance(Date.parse(failed.error?.nextAttemptAt ?? "") - b.clock.now());
    await b.reconciler.idle(id);
    assert.equal((await row(id)).phase, "stopped");
  });

  test("a delete cancels a start in flight instead of waiting for it", async () => {
    const id = await newSandbox();
    b.driver.script.ensure.push("hang");
    b.reconciler.wake(id);
    while (b.driver.hanging.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await verb(id, "deleted");
    await b.settle(id);
    assert.equal(b.driver.hanging[0]?.aborted, true, "the ensure's signal was aborted");
    assert.equal((await row(id)).phase, "deleted");
    assert.equal(b.driver.boxes.has(id), false);
  });

  test("two replicas on one database never act on one sandbox at once, and it is provisioned once", async () => {
    const driver = new MemoryDriver();
    const clock = new FakeClock();
    const one = bed({ driver, clock, holder: "replica-a:1:x" });
    const two = bed({ driver, clock, holder: "replica-b:2:y" });
    const ids = await Promise.all(Array.from({ length: 6 }, () => newSandbox()));
    for (const id of ids) {
      one.reconciler.wake(id);
      two.reconciler.wake(id);
    }
    for (const id of ids) {
      await one.reconciler.idle(id);
      await two.reconciler.idle(id);
    }
    assert.equal(driver.maxConcurrent, 1, "never two actions on one sandbox at the same time");
    for (const id of ids) {
      assert.equal((await row(id)).phase, "running");
      assert.equal(driver.count("ensure", id), 1, `${id} provisioned once`);
      assert.equal((await pool.query("select lease_owner from sandboxes where id = $1", [id])).rows[0].lease_owner, null, "the lease is released");
    }
  });

  test("a replica's write is fenced by its lease: another replica's lease makes it a no-op", async () => {
    const id = await newSandbox();
    await store.takeLease(pool, id, "someone-else:9:z", 60_000);
    await b.settle(id);
    assert.equal(b.driver.count("ensure", id), 0, "a sandbox leased by a live replica is left to it");
    assert.equal((await row(id)).phase, "pending");
    await store.releaseLease(pool, id, "someone-else:9:z");
    await b.settle(id);
    assert.equal((await row(id)).phase, "running");
  });

  test("compute the store does not know is reported, then stopped after the grace, and never removed", async () => {
    const orphans = bed({ orphanGraceMs: 5_000 });
    orphans.driver.boxes.set("sbx_orphan", { state: "running" });
    await orphans.reconciler.resync();
    assert.equal(orphans.reconciler.orphans, 1);
    assert.equal(orphans.driver.count("stop", "sbx_orphan"), 0, "not before the grace");
    orphans.clock.advance(5_000);
    await orphans.reconciler.resync();
    assert.equal(orphans.driver.count("stop", "sbx_orphan"), 1);
    assert.equal(orphans.driver.count("remove", "sbx_orphan"), 0, "its storage is never deleted");
    assert.equal(orphans.driver.boxes.get("sbx_orphan")?.state, "stopped");
  });

  test("past the installation's cap a sandbox waits with a clear error, and starts once there is room", async () => {
    const running = Number((await pool.query("select count(*) from sandboxes where phase in ('provisioning', 'running', 'stopping')")).rows[0].count);
    const capped = bed({ maxSandboxes: running + 1 });
    const first = await newSandbox();
    const second = await newSandbox();
    await capped.settle(first);
    await capped.settle(second);
    assert.equal((await row(first)).phase, "running");
    const waiting = await row(second);
    assert.equal(waiting.phase, "failed");
    assert.equal(waiting.error?.code, "SANDBOX_CAPACITY_REACHED");
    assert.match(waiting.error?.message ?? "", /already run/);
    assert.match(waiting.error?.hint ?? "", /OUTPOST_MAX_SANDBOXES/);
    assert.ok(waiting.error?.nextAttemptAt, "it is retried by itself");
    assert.equal(capped.driver.count("ensure", second), 0, "nothing was started for it");
    await verb(first, "deleted");
    await capped.settle(first);
    capped.clock.advance(Date.parse(waiting.error?.nextAttemptAt ?? "") - capped.clock.now());
    await capped.reconciler.idle(second);
    assert.equal((await row(second)).phase, "running");
  });
});
