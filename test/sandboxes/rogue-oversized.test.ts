// A rogue supervisor answers with far more than a supervisor ever would: a 15 MiB error
// message, a 20 MiB JSON answer, a header list far over the link's 64 KiB limit. The
// control plane answers its API clients with a short, clean error, its log stays small,
// and its memory stays bounded even when many such answers arrive at once.
// The control plane runs in a process of its own (outpost serve), so its memory and its
// log are its own and nothing of the test's. Each memory measurement is the first test on
// a fresh control plane: memory freed by an earlier test is reused without showing as growth.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api } from "../helpers/server.ts";
import { waitUntil } from "../supervisor/helpers.ts";
import { memoryMiB, type Rogue, resetPeakMemory, type ServedControlPlane, serveControlPlane, takeOver } from "./rogue.ts";

/** How much a control plane's resident memory may peak above where it was: generous, so
 *  only buffering in proportion to what the sandbox sends fails it. */
const MEMORY_BOUND_MIB = 150;

/** A control plane in its own process with one sandbox whose link a rogue holds. */
function takenOverSandbox(): { s: () => ServedControlPlane; sandboxId: () => string; rogue: () => Rogue } {
  let s: ServedControlPlane;
  let box: { id: string };
  let rogue: Rogue;
  before(async () => {
    // debug, not the default info: no level may carry what the sandbox sent.
    s = await serveControlPlane({ OUTPOST_LOG_LEVEL: "debug" });
    await api(s, "POST", "/api/v1/projects", { body: { name: "big" } });
    box = await runningSandbox(s, "big");
    rogue = await takeOver(s, box.id, "oversized");
  });
  after(async () => {
    await rogue?.restore();
    await s?.close();
  });
  return { s: () => s, sandboxId: () => box.id, rogue: () => rogue };
}

/** How much the server's resident memory peaked above where it was when `work` began (MiB). */
async function peakGrowthMiB(pid: number, work: () => Promise<void>): Promise<number> {
  resetPeakMemory(pid);
  const before = memoryMiB(pid).rss;
  await work();
  return memoryMiB(pid).peak - before;
}

describe("a rogue supervisor's 15 MiB error message", () => {
  const { s, sandboxId, rogue } = takenOverSandbox();

  // First, while the control plane's memory is fresh.
  test("50 of them at once keep the control plane's memory bounded, and it still answers", async () => {
    let statuses: number[] = [];
    const growth = await peakGrowthMiB(s().pid, async () => {
      const answers = await rogue().together(50, () => api(s(), "POST", `/api/v1/sandboxes/${sandboxId()}/exec`, { body: { command: ["true"] } }));
      statuses = answers.map((answer) => answer.status);
    });
    assert.ok(
      statuses.every((status) => status > 500),
      `every call got a gateway error: ${JSON.stringify(statuses)}`,
    );
    assert.ok(growth < MEMORY_BOUND_MIB, `resident memory peaked ${growth.toFixed(0)} MiB above where it was (15 MiB × 50 were sent)`);
    assert.equal((await api(s(), "GET", "/healthz")).status, 200);
  });

  test("becomes an API error of about 1 KiB, a gateway error rather than an internal one", async () => {
    const res = await api(s(), "POST", `/api/v1/sandboxes/${sandboxId()}/exec`, { body: { command: ["true"] } });
    assert.ok(res.status > 500, `a gateway error, not an internal one: ${res.status}`);
    assert.equal(typeof res.body.error?.message, "string");
    assert.ok(res.body.error.message.length <= 1100, `message of ${res.body.error.message.length} characters`);
    assert.ok(JSON.stringify(res.body).length < 2048, `answer of ${JSON.stringify(res.body).length} characters`);
  });

  test("does not reach the control plane's log", async () => {
    const logBefore = s().log().length;
    const res = await api(s(), "POST", `/api/v1/sandboxes/${sandboxId()}/exec`, { body: { command: ["true"] } });
    const requestId: string = res.body.error.requestId;
    const ours = () =>
      s()
        .log()
        .slice(logBefore)
        .split("\n")
        .filter((line) => line.includes(`"requestId":"${requestId}"`));
    // The log arrives through a pipe of its own: wait for the request's last line.
    await waitUntil("the request's log lines are in", () => ours().some((line) => line.includes('"msg":"request completed"')));
    assert.ok(
      ours().some((line) => line.includes('"msg":"request failed"')),
      "the failure was logged",
    );
    const size = ours().join("\n").length;
    assert.ok(size < 16 * 1024, `the request's log lines hold ${size} characters`);
    assert.ok(!/Q{102400}/.test(s().log().slice(logBefore)), "no line of the log carries a 100 KiB run of the message");
  });
});

describe("a rogue supervisor's 20 MiB JSON answer", () => {
  const { s, sandboxId, rogue } = takenOverSandbox();

  // First, while the control plane's memory is fresh.
  test("30 of them at once keep the control plane's memory bounded", async () => {
    let statuses: number[] = [];
    const growth = await peakGrowthMiB(s().pid, async () => {
      const answers = await rogue().together(30, () => api(s(), "GET", `/api/v1/sandboxes/${sandboxId()}/processes`));
      statuses = answers.map((answer) => answer.status);
    });
    assert.ok(
      statuses.every((status) => status > 500),
      `every call got a gateway error: ${JSON.stringify(statuses)}`,
    );
    assert.ok(growth < MEMORY_BOUND_MIB, `resident memory peaked ${growth.toFixed(0)} MiB above where it was (20 MiB × 30 were sent)`);
  });

  test("is refused as a bad response: JSON answers are capped at 16 MiB", async () => {
    const res = await api(s(), "GET", `/api/v1/sandboxes/${sandboxId()}/processes`);
    assert.equal(res.status, 502);
    assert.equal(res.body.error?.code, "SUPERVISOR_BAD_RESPONSE");
  });

  test("a header list far over 64 KiB becomes a gateway error, and the control plane carries on", async () => {
    const res = await api(s(), "GET", `/api/v1/sandboxes/${sandboxId()}/processes/prc_bigheaders0000`);
    assert.ok(res.status > 500, `a gateway error: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    assert.match(res.body.error?.code ?? "", /^SUPERVISOR_/);
    assert.equal((await api(s(), "GET", "/healthz")).status, 200);
    const next = await api(s(), "GET", `/api/v1/sandboxes/${sandboxId()}/processes`);
    assert.equal(next.body.error?.code, "SUPERVISOR_BAD_RESPONSE", "the sandbox's next request still reaches its supervisor (the rogue)");
  });
});
