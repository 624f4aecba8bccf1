// Requests the daemon must refuse, each with its status and stable error code, and the
// protocol header on the refusal too.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MAX_JSON_BODY_BYTES, PROTOCOL_HEADER } from "../../src/supervisor/protocol.ts";
import { type Daemon, type RawResponse, rawRequest, startDaemon, stopAllDaemons } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

function assertError(response: RawResponse, status: number, code: string): void {
  assert.equal(response.status, status, response.body);
  assert.equal(response.headers[PROTOCOL_HEADER], "2");
  assert.match(String(response.headers["content-type"]), /application\/json/);
  const body = JSON.parse(response.body);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
}

const post = (path: string, body: string | Buffer, chunked = false) =>
  rawRequest(daemon, { method: "POST", path, body, chunked, headers: { "content-type": "application/json" } });

describe("bad input", () => {
  test("an unknown route is 404 ROUTE_NOT_FOUND", async () => {
    assertError(await rawRequest(daemon, { method: "GET", path: "/v1/nothing" }), 404, "ROUTE_NOT_FOUND");
    assertError(await rawRequest(daemon, { method: "GET", path: "/" }), 404, "ROUTE_NOT_FOUND");
  });

  test("a known route with the wrong method is 405 METHOD_NOT_ALLOWED", async () => {
    assertError(await rawRequest(daemon, { method: "DELETE", path: "/v1/health" }), 405, "METHOD_NOT_ALLOWED");
  });

  test("a body that is not JSON, or no body, is 400 INVALID_JSON", async () => {
    assertError(await post("/v1/exec", "{command:"), 400, "INVALID_JSON");
    assertError(await post("/v1/processes", ""), 400, "INVALID_JSON");
  });

  test("JSON of the wrong shape is 400 INVALID_REQUEST naming the field", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["/v1/exec", [], /object/],
      ["/v1/exec", {}, /command/],
      ["/v1/exec", { command: 42 }, /command/],
      ["/v1/exec", { command: [] }, /command/],
      ["/v1/exec", { command: ["ls", 1] }, /command\[1\]/],
      ["/v1/exec", { command: "ls", timeoutMs: -1 }, /timeoutMs/],
      ["/v1/exec", { command: "ls", timeoutMs: 1.5 }, /timeoutMs/],
      ["/v1/exec", { command: "ls", env: { A: 1 } }, /env\.A/],
      ["/v1/exec", { command: "ls", env: { "A=B": "x" } }, /variable name/],
      ["/v1/exec", { command: "ls", stdin: 5 }, /stdin/],
      ["/v1/exec", { command: "ls\u0000" }, /NUL/],
      ["/v1/exec", { command: "ls", timeout: 5 }, /Unknown field 'timeout'/],
      ["/v1/processes", { command: "ls", name: "" }, /name/],
      ["/v1/processes", { command: "ls", timeoutMs: 5 }, /Unknown field 'timeoutMs'/],
    ];
    for (const [path, body, message] of cases) {
      const response = await post(path, JSON.stringify(body));
      assertError(response, 400, "INVALID_REQUEST");
      assert.match(JSON.parse(response.body).error.message, message, JSON.stringify(body));
    }
  });

  test("a signal outside the allowed list is 400", async () => {
    const { id } = await daemon.client.startProcess({ command: ["sleep", "1000"] });
    for (const signal of ["SIGSTOP", "KILL", 9, ""]) {
      assertError(await post(`/v1/processes/${id}/signal`, JSON.stringify({ signal })), 400, "INVALID_REQUEST");
    }
    await daemon.client.signalProcess(id, "SIGKILL");
  });

  test("a malformed logs query is 400", async () => {
    const { id } = await daemon.client.startProcess({ command: ["true"] });
    assertError(await rawRequest(daemon, { method: "GET", path: `/v1/processes/${id}/logs?after=-1` }), 400, "INVALID_REQUEST");
    assertError(await rawRequest(daemon, { method: "GET", path: `/v1/processes/${id}/logs?follow=maybe` }), 400, "INVALID_REQUEST");
  });

  test("a JSON body over 1 MiB is 413 PAYLOAD_TOO_LARGE, whether its length is declared or not", async () => {
    const big = JSON.stringify({ command: "true", stdin: "x".repeat(MAX_JSON_BODY_BYTES) });
    assertError(await post("/v1/exec", big), 413, "PAYLOAD_TOO_LARGE");
    assertError(await post("/v1/exec", big, true), 413, "PAYLOAD_TOO_LARGE");
    // The daemon is still fine afterwards.
    assert.equal((await daemon.client.health()).protocol, 2);
  });

  test("the client surfaces the daemon's code and status", async () => {
    await assert.rejects(daemon.client.exec({ command: "ls", timeoutMs: 0 }), { name: "SupervisorClientError", code: "INVALID_REQUEST", status: 400 });
  });
});
