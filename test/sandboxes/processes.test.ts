// Background processes through the API: start, list, logs (follow, resume), signal, and
// exit status kept after the process ended.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

describe("background processes", () => {
  let s: TestServer;
  let box: any;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "procs" } });
    box = await runningSandbox(s, "procs");
  });
  after(async () => s?.close());

  const text = (events: any[]) =>
    events
      .filter((e) => e.event === "log")
      .map((e) => Buffer.from(e.data.data, "base64").toString())
      .join("");

  test("a process runs in the background; its logs stream until it exits with its status", async () => {
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, {
      body: { command: "for i in 1 2 3; do echo line-$i; done; echo warn >&2; exit 7", name: "counter" },
    });
    assert.equal(started.status, 201);
    assert.match(started.body.id, /^prc_/);
    assert.equal(started.body.name, "counter");
    const events = await collectSse(`${s.url}/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs`, {
      token: s.token,
      until: (seen) => seen.some((e) => e.event === "exit"),
    });
    assert.equal(text(events.filter((e) => e.data.stream === "stdout")), "line-1\nline-2\nline-3\n");
    assert.equal(text(events.filter((e) => e.data.stream === "stderr")), "warn\n");
    assert.equal(events.at(-1)?.data.exitCode, 7);
    const ids = events.filter((e) => e.event === "log").map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      ids.map((_, i) => i + 1),
    );
    const got = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/${started.body.id}`);
    assert.deepEqual([got.body.status, got.body.exitCode], ["exited", 7]);
  });

  test("logs resume after Last-Event-ID with nothing repeated", async () => {
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: ["sh", "-c", "echo a; echo b; echo c"] } });
    const all = await collectSse(`${s.url}/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs`, {
      token: s.token,
      until: (seen) => seen.some((e) => e.event === "exit"),
    });
    const first = all.find((e) => e.event === "log");
    const rest = await collectSse(`${s.url}/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs?follow=false`, {
      token: s.token,
      headers: { "last-event-id": String(first?.id) },
      until: () => false,
    });
    assert.equal(text(rest), text(all).slice(text([first]).length));
  });

  test("a long-running process is listed, can be signalled, and keeps its exit status", async () => {
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: ["sleep", "600"], name: "server" } });
    const list = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes`);
    assert.ok(list.body.items.some((p: any) => p.id === started.body.id && p.status === "running"));
    const signalled = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes/${started.body.id}/signal`, { body: { signal: "SIGTERM" } });
    assert.equal(signalled.status, 202);
    const events = await collectSse(`${s.url}/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs`, {
      token: s.token,
      until: (seen) => seen.some((e) => e.event === "exit"),
    });
    assert.equal(events.at(-1)?.data.signal, "SIGTERM");
    const got = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/${started.body.id}`);
    assert.equal(got.body.status, "exited");
  });

  test("bad process requests are refused in the error shape", async () => {
    const badSignal = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes/prc_aaaaaaaaaaaa/signal`, { body: { signal: "SIGSTOP" } });
    assert.equal(badSignal.status, 400);
    const missing = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/prc_aaaaaaaaaaaa`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "PROCESS_NOT_FOUND");
    const badId = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/..%2F..%2Fetc`);
    assert.equal(badId.status, 400);
  });
});
