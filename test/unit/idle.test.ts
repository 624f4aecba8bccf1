// Idle stop's pure rule (domain/idle.ts) and the in-memory activity record that feeds it
// (services/sandbox-activity.ts): when a sandbox counts as idle, what a restart does to that,
// how the API names a stop, and that holding a sandbox and stopping it exclude each other.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSettings } from "../../src/config/settings.ts";
import { StartupError } from "../../src/domain/errors.ts";
import { type ActivityFacts, idleStopDue, isIdle, isWaking, stoppedReason } from "../../src/domain/idle.ts";
import { SandboxActivity } from "../../src/services/sandbox-activity.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2026-01-01T00:00:00Z");
const facts = (over: Partial<ActivityFacts>): ActivityFacts => ({ busy: false, lastActivityAt: null, runningSince: T0, watchingSince: T0, ...over });

describe("when a sandbox is idle", () => {
  test("idle from the later of its start and its last activity, for a whole timeout", () => {
    const used = facts({ lastActivityAt: T0 + 10 * MINUTE });
    assert.equal(idleStopDue(used, 1800), T0 + 40 * MINUTE);
    assert.equal(isIdle(used, 1800, T0 + 40 * MINUTE - 1), false);
    assert.equal(isIdle(used, 1800, T0 + 40 * MINUTE), true);
    // Woken after a long rest: its old activity does not count against its new start.
    const woken = facts({ lastActivityAt: T0, runningSince: T0 + 5 * 3600_000 });
    assert.equal(idleStopDue(woken, 60), T0 + 5 * 3600_000 + MINUTE);
  });

  test("busy or timeout 0: never", () => {
    assert.equal(idleStopDue(facts({ busy: true, lastActivityAt: T0 }), 60), null);
    assert.equal(isIdle(facts({ busy: true }), 60, T0 + 365 * 24 * 3600_000), false);
    assert.equal(idleStopDue(facts({}), 0), null);
    assert.equal(isIdle(facts({}), 0, T0 + 365 * 24 * 3600_000), false);
  });

  test("after a restart: recorded activity counts, none gives a full timeout from the restart", () => {
    const restart = T0 + 24 * 3600_000;
    // Used just before the restart (as written down): not stopped at once.
    assert.equal(idleStopDue(facts({ lastActivityAt: restart - 1000, watchingSince: restart }), 1800), restart - 1000 + 1800_000);
    // Idle long before it: stopped at the first look, not kept for another timeout.
    assert.equal(isIdle(facts({ lastActivityAt: T0, watchingSince: restart }), 1800, restart), true);
    // Nothing recorded at all: a full timeout from the restart.
    assert.equal(idleStopDue(facts({ lastActivityAt: null, watchingSince: restart }), 1800), restart + 1800_000);
  });

  test("the API names who stopped it, and a wake while it is on its way", () => {
    assert.equal(stoppedReason({ desired: "stopped", idleState: "stopped" }), "idle");
    assert.equal(stoppedReason({ desired: "stopped", idleState: null }), "user");
    assert.equal(stoppedReason({ desired: "running", idleState: "waking" }), null);
    assert.equal(isWaking({ phase: "provisioning", desired: "running", idleState: "waking" }), true);
    assert.equal(isWaking({ phase: "stopped", desired: "running", idleState: "waking" }), true);
    assert.equal(isWaking({ phase: "running", desired: "running", idleState: "waking" }), false, "running: awake");
    assert.equal(isWaking({ phase: "failed", desired: "running", idleState: "waking" }), false);
    const noRoom = { code: "SANDBOX_CAPACITY_REACHED", nextAttemptAt: "2026-01-01T00:00:02Z" };
    assert.equal(isWaking({ phase: "failed", desired: "running", idleState: "waking", error: noRoom }), true, "waiting for room to start");
    assert.equal(isWaking({ phase: "provisioning", desired: "running", idleState: null }), false, "a user's start is no wake");
  });
});

describe("the activity record", () => {
  test("a hold keeps a sandbox busy until released; its end is the last activity", async () => {
    let now = T0;
    const activity = new SandboxActivity(() => now);
    assert.deepEqual(activity.facts("sbx_a"), { busy: false, lastActivityAt: null });
    const release = await activity.hold("sbx_a");
    now += MINUTE;
    assert.deepEqual(activity.facts("sbx_a"), { busy: true, lastActivityAt: T0 });
    release();
    release();
    assert.deepEqual(activity.facts("sbx_a"), { busy: false, lastActivityAt: T0 + MINUTE }, "released once, however often called");
  });

  test("no stop is decided while a hold is out", async () => {
    const activity = new SandboxActivity();
    const release = await activity.hold("sbx_a");
    let asked = false;
    const stopped = await activity.stopUnlessHeld("sbx_a", async () => {
      asked = true;
      return true;
    });
    assert.equal(stopped, false);
    assert.equal(asked, false);
    release();
    assert.equal(await activity.stopUnlessHeld("sbx_a", async () => true), true);
    assert.equal(activity.idleStopped("sbx_a"), true, "a phase read before the stop must not be trusted");
    activity.woken("sbx_a");
    assert.equal(activity.idleStopped("sbx_a"), false);
  });

  test("a hold taken while a stop is being decided waits for the decision", async () => {
    const activity = new SandboxActivity();
    let commit!: (stopped: boolean) => void;
    const deciding = activity.stopUnlessHeld(
      "sbx_a",
      () =>
        new Promise<boolean>((resolve) => {
          commit = resolve;
        }),
    );
    const order: string[] = [];
    const holding = activity.hold("sbx_a").then(() => order.push("held"));
    await Promise.resolve();
    order.push("decided");
    commit(true);
    await Promise.all([deciding, holding]);
    assert.deepEqual(order, ["decided", "held"]);
    assert.equal(activity.idleStopped("sbx_a"), true, "so the holder sees the stop and wakes the sandbox");
  });

  test("activity is written down coarsely: busy ones as now, each at most every interval", () => {
    let now = T0;
    const activity = new SandboxActivity(() => now);
    activity.note("sbx_idle", T0);
    void activity.hold("sbx_busy");
    now += 10_000;
    const first = activity.unwritten(30_000);
    assert.deepEqual(
      first.map((e) => [e.id, e.at.getTime()]),
      [
        ["sbx_idle", T0],
        ["sbx_busy", T0 + 10_000],
      ],
    );
    activity.written(first);
    now += 20_000;
    assert.deepEqual(activity.unwritten(30_000), [], "nothing moved on by 30 s");
    now += 10_000;
    assert.deepEqual(
      activity.unwritten(30_000).map((e) => e.id),
      ["sbx_busy"],
    );
  });

  test("sandboxes that no longer run are forgotten unless held", async () => {
    const activity = new SandboxActivity();
    activity.note("sbx_gone", Date.now());
    const release = await activity.hold("sbx_held");
    activity.keepOnly(new Set());
    assert.equal(activity.facts("sbx_gone").lastActivityAt, null);
    assert.equal(activity.facts("sbx_held").busy, true);
    release();
  });
});

describe("the idle check's period", () => {
  test("OUTPOST_IDLE_CHECK_MS sets it (default 15 s); a bad value names the variable", () => {
    assert.equal(loadSettings({}).idleCheckMs, 15_000);
    assert.equal(loadSettings({ OUTPOST_IDLE_CHECK_MS: "250" }).idleCheckMs, 250);
    assert.throws(
      () => loadSettings({ OUTPOST_IDLE_CHECK_MS: "5" }),
      (e: unknown) => e instanceof StartupError && /OUTPOST_IDLE_CHECK_MS/.test(e.fix),
    );
  });
});
