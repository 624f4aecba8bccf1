// A rogue supervisor answers with values no supervisor would send: out-of-range numbers,
// strings where timestamps or signal names belong, unknown fields, lines that are not JSON
// or are over the size cap, `__proto__` keys. Each API call answers 502
// SUPERVISOR_BAD_RESPONSE, or, where the protocol says unknown fields are dropped, the
// answer without them; never a 500, and never with the bad value in it (an API answer is
// shown to people and written to logs; what a sandbox made up must not ride along).
// One rogue answers every case: the exec's second argument or the process id picks it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FRAME, FRAMES_CONTENT_TYPE, FrameDecoder } from "../../src/supervisor/frames.ts";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { type Rogue, takeOver } from "./rogue.ts";

describe("a rogue supervisor that answers with malformed values", () => {
  let s: TestServer;
  let box: any;
  let rogue: Rogue;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "malformed" } });
    box = await runningSandbox(s, "malformed");
    rogue = await takeOver(s, box.id, "malformed");
  });
  after(async () => {
    await rogue?.restore();
    await s?.close();
  });

  const execCase = (name: string) => api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: ["malformed", name] } });
  const processCase = (id: string) => api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/${id}`);

  /** The answer, as text and with its message unescaped, holds none of `values`. */
  function assertNoTrace(res: { body: unknown }, values: string[]): void {
    // The request id is random hex, which can spell a value by chance ("…31e2042" holds 1e20).
    const body = JSON.parse(JSON.stringify(res.body)) as { error?: { message?: unknown; requestId?: unknown } };
    if (body.error) delete body.error.requestId;
    const texts = [JSON.stringify(body), String(body.error?.message ?? "")];
    for (const value of values) {
      for (const text of texts) assert.ok(!text.includes(value), `the answer carries '${value}': ${text.slice(0, 400)}`);
    }
  }

  function assertBadResponse(res: { status: number; body: any }, values: string[]): void {
    assert.equal(res.status, 502, JSON.stringify(res.body).slice(0, 400));
    assert.equal(res.body.error.code, "SUPERVISOR_BAD_RESPONSE");
    assertNoTrace(res, values);
  }

  test("an exit code of 1e20 is a bad response", async () => {
    assertBadResponse(await execCase("exit-code-huge"), ["1e20", "1e+20", "100000000000000000000"]);
  });

  test("a pid of -1 is a bad response", async () => {
    assertBadResponse(await execCase("pid-negative"), ["-1"]);
  });

  test("a pid of 1e9 is a bad response", async () => {
    assertBadResponse(await execCase("pid-huge"), ["1000000000", "1e9", "1e+9"]);
  });

  test("a signal named <script>… is a bad response", async () => {
    assertBadResponse(await execCase("signal-script"), ["<script>", "alert(1)"]);
  });

  test("a line that is not JSON is a bad response", async () => {
    assertBadResponse(await execCase("not-json"), ["<html>", "not json at all"]);
  });

  test("a line over the 4 MiB line cap is a bad response", async () => {
    assertBadResponse(await execCase("line-too-long"), ["AAAAAAAAAAAAAAAA"]);
  });

  test("a binary frame over the 1 MiB frame cap ends the frame stream with a bad-response error frame", async () => {
    const response = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: FRAMES_CONTENT_TYPE },
      body: JSON.stringify({ command: ["malformed", "frame-too-big"] }),
    });
    assert.equal(response.status, 200);
    const decoder = new FrameDecoder();
    const frames = decoder.push(Buffer.from(await response.arrayBuffer()));
    assert.equal(decoder.bufferedBytes, 0, "the answer ends on a frame boundary");
    assert.deepEqual(
      frames.map((frame) => frame.type),
      [FRAME.started, FRAME.error],
      "the started frame, then the control plane's error: none of the oversized output, no exit",
    );
    const error = JSON.parse(frames[1]?.payload.toString() ?? "{}");
    assert.equal(error.code, "SUPERVISOR_BAD_RESPONSE");
  });

  test("unknown fields in exec events are dropped", async () => {
    const res = await execCase("extra-fields");
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
    assert.equal(res.body.stdout, "hi\n");
    assertNoTrace(res, ["EXTRA-FIELD-VALUE", "evil", "nested"]);
  });

  test("__proto__ keys in exec events are dropped and pollute nothing", async () => {
    const res = await execCase("proto-keys");
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
    assert.equal(res.body.exitCode, 0, "the exit code the event has, not one from its __proto__");
    assertNoTrace(res, ["PROTO-VALUE", "polluted"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype of the control plane is untouched");
  });

  test("a process started 'yesterday' is a bad response", async () => {
    assertBadResponse(await processCase("prc_yesterday000"), ["yesterday"]);
  });

  test("a process with pid -1 is a bad response", async () => {
    assertBadResponse(await processCase("prc_pidnegative0"), ["-1"]);
  });

  test("a process answer that is not JSON is a bad response", async () => {
    assertBadResponse(await processCase("prc_notjson00000"), ["<html>", "not json at all"]);
  });

  test("unknown fields in a process are dropped", async () => {
    const res = await processCase("prc_extrafields0");
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
    assert.equal(res.body.id, "prc_extrafields0");
    assertNoTrace(res, ["EXTRA-FIELD-VALUE", "evil"]);
  });

  test("a __proto__ key in a process is dropped and changes nothing", async () => {
    const res = await processCase("prc_protokeys000");
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
    assert.equal(res.body.status, "running", "the status the process has, not one from its __proto__");
    assertNoTrace(res, ["PROTO-VALUE", "polluted"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype of the control plane is untouched");
  });
});
