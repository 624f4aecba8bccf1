// A rogue supervisor that accepts every request on the link and never answers (or, for an
// exec with a timeout, says `started` and then nothing). Every API call still ends: the
// supervisor has answerTimeoutMs (15 s by default; the server has no setting for it) to
// answer, and an exec with timeoutMs must be over by timeoutMs plus that grace. The tests
// assert what the API answers, not how long it took; the client gives up after 60 s only
// so that a hang fails the test instead of the whole file.
// The tests run concurrently: each waits out the same 15 s deadline.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readSse } from "../../src/cli/client.ts";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../supervisor/helpers.ts";
import { type Rogue, takeOver } from "./rogue.ts";

/** Longer than any deadline the control plane should have here. */
const HANG_MS = 60_000;

describe("a rogue supervisor that never answers", { concurrency: true }, () => {
  let s: TestServer;
  let box: any;
  let rogue: Rogue;
  before(async () => {
    s = await startTestServer("embedded");
    await call("POST", "/api/v1/projects", { name: "silent" });
    box = await runningSandbox(s, "silent");
    rogue = await takeOver(s, box.id, "silent");
  });
  after(async () => {
    await rogue?.restore();
    await s?.close();
  });

  /** An API call that fails the test, rather than hanging it, if the API never answers. */
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    let response: Response;
    try {
      response = await fetch(`${s.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${s.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(HANG_MS),
      });
    } catch (error) {
      throw new Error(`${method} ${path} did not end within ${HANG_MS} ms: ${(error as Error).message}`);
    }
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  test("an exec answers 504 SUPERVISOR_TIMEOUT", async () => {
    const res = await call("POST", `/api/v1/sandboxes/${box.id}/exec`, { command: ["echo", "never"] });
    assert.equal(res.status, 504, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "SUPERVISOR_TIMEOUT");
  });

  test("listing processes answers 504 SUPERVISOR_TIMEOUT", async () => {
    const res = await call("GET", `/api/v1/sandboxes/${box.id}/processes`);
    assert.equal(res.status, 504, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "SUPERVISOR_TIMEOUT");
  });

  test("an exec with timeoutMs whose supervisor says `started` and then nothing still ends, with 504", async () => {
    const res = await call("POST", `/api/v1/sandboxes/${box.id}/exec`, { command: ["sleep", "1000"], timeoutMs: 500 });
    assert.equal(res.status, 504, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "SUPERVISOR_TIMEOUT");
  });

  test("a streamed exec with timeoutMs whose supervisor says `started` and then nothing ends with a timeout error event", async () => {
    const events: { id?: string; event: string; data: any }[] = [];
    try {
      const response = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ command: ["sleep", "1000"], timeoutMs: 500 }),
        signal: AbortSignal.timeout(HANG_MS),
      });
      assert.equal(response.status, 200);
      for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) events.push(event);
    } catch (error) {
      if ((error as Error).name !== "TimeoutError") throw error;
      assert.fail(`the stream did not end within ${HANG_MS} ms; events so far: ${JSON.stringify(events)}`);
    }
    assert.deepEqual(
      events.map((e) => e.event),
      ["started", "error"],
    );
    assert.equal(events[1]?.data.code, "SUPERVISOR_TIMEOUT");
  });

  test("the control plane closes the stream it gave up on, so silent streams do not pile up on the link", async () => {
    const path = "/v1/processes/prc_givenup000000";
    const res = await call("GET", `/api/v1/sandboxes/${box.id}/processes/prc_givenup000000`);
    assert.equal(res.status, 504, JSON.stringify(res.body));
    await waitUntil(
      "the rogue sees the stream closed",
      () => rogue.records("streams.log").some((record) => record.event === "closed" && record.path === path),
      10_000,
    );
  });
});
