// The global event stream: SSE framing, Last-Event-ID resume with nothing missed or
// repeated, the project filter, and delivery across control-plane replicas (LISTEN/NOTIFY).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, BACKENDS, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

for (const backend of BACKENDS) {
  describe(`events stream (${backend} database)`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(backend);
    });
    after(async () => s?.close());

    test("an open, caught-up stream receives an event for a project created afterwards", async () => {
      await api(s, "POST", "/api/v1/projects", { body: { name: "marker" } });
      let created: Promise<{ body: { id: string } }> | undefined;
      const events = await collectSse(`${s.url}/api/v1/events`, {
        token: s.token,
        until: (seen) => {
          // Only once the stream delivered what existed does the new project get created.
          if (!created && seen.some((e) => e.data.data.name === "marker")) created = api(s, "POST", "/api/v1/projects", { body: { name: "live" } });
          return seen.some((e) => e.data.data.name === "live");
        },
      });
      const event = events.find((e) => e.data.data.name === "live");
      assert.ok(event && created);
      assert.equal(event.data.projectId, (await created).body.id);
      assert.equal(event.id, String(event.data.id));
      assert.equal(event.event, "project.created");
    });

    test("Last-Event-ID resumes after that event: nothing missed, nothing repeated", async () => {
      for (const name of ["r-1", "r-2", "r-3", "r-4"]) await api(s, "POST", "/api/v1/projects", { body: { name } });
      const all = await collectSse(`${s.url}/api/v1/events?follow=false`, { token: s.token, until: () => false });
      const ids = all.map((e) => Number(e.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        "ids increase",
      );
      const cut = all[2];
      assert.ok(cut?.id);
      const resumed = await collectSse(`${s.url}/api/v1/events?follow=false`, { token: s.token, headers: { "last-event-id": cut.id }, until: () => false });
      assert.deepEqual(
        resumed.map((e) => e.id),
        all.slice(3).map((e) => e.id),
      );
      const viaQuery = await collectSse(`${s.url}/api/v1/events?follow=false&after=${cut.id}`, { token: s.token, until: () => false });
      assert.deepEqual(
        viaQuery.map((e) => e.id),
        all.slice(3).map((e) => e.id),
      );
    });

    test("?project= keeps only that project's events (by name or id)", async () => {
      const p = await api(s, "POST", "/api/v1/projects", { body: { name: "filtered" } });
      await api(s, "PATCH", "/api/v1/projects/filtered", { body: { instructions: "x" } });
      for (const ref of ["filtered", p.body.id]) {
        const events = await collectSse(`${s.url}/api/v1/events?follow=false&project=${ref}`, { token: s.token, until: () => false });
        assert.deepEqual(
          events.map((e) => e.event),
          ["project.created", "project.updated"],
        );
      }
      const missing = await api(s, "GET", "/api/v1/events?project=nope");
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, "PROJECT_NOT_FOUND");
    });

    test("a stream woken many times keeps one abort listener (no MaxListenersExceededWarning)", async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
      process.on("warning", onWarning);
      try {
        const names = Array.from({ length: 25 }, (_, i) => `wake-${i}`);
        let next = 0;
        // One project per delivered event: every one is a separate wake-up of the stream.
        await collectSse(`${s.url}/api/v1/events?after=${await lastId(s)}`, {
          token: s.token,
          until: (events) => {
            if (next < names.length && events.length >= next) void api(s, "POST", "/api/v1/projects", { body: { name: names[next++] } });
            return names.every((n) => events.some((e) => e.data.data.name === n));
          },
        });
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(
          warnings.filter((w) => /MaxListeners/.test(w)),
          [],
        );
      } finally {
        process.off("warning", onWarning);
      }
    });

    test("events written concurrently all arrive on a live stream, in id order", async () => {
      const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      const streaming = collectSse(`${s.url}/api/v1/events?after=${await lastId(s)}`, {
        token: s.token,
        until: (events) => names.every((n) => events.some((e) => e.data.data.name === n)),
      });
      await Promise.all(names.map((name) => api(s, "POST", "/api/v1/projects", { body: { name } })));
      const events = await streaming;
      const ids = events.map((e) => Number(e.id));
      assert.equal(new Set(ids).size, ids.length, "no duplicates");
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );
    });
  });
}

describe("events across two control-plane replicas sharing one database", () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    a = await startTestServer("external");
    b = await startTestServer("external", { databaseUrl: a.databaseUrl });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test("a caught-up stream on one replica hears of a project created through the other", async () => {
    await api(a, "POST", "/api/v1/projects", { body: { name: "marker-a" } });
    let created: Promise<unknown> | undefined;
    const events = await collectSse(`${b.url}/api/v1/events`, {
      token: b.token,
      until: (seen) => {
        if (!created && seen.some((e) => e.data.data.name === "marker-a")) created = api(a, "POST", "/api/v1/projects", { body: { name: "via-a" } });
        return seen.some((e) => e.data.data.name === "via-a");
      },
    });
    assert.equal(events.at(-1)?.event, "project.created");
  });

  test("both replicas' admin tokens keep working (a replica never revokes another's)", async () => {
    assert.equal((await api(a, "GET", "/api/v1/projects")).status, 200);
    assert.equal((await api(b, "GET", "/api/v1/projects")).status, 200);
  });
});

async function lastId(s: TestServer): Promise<number> {
  const events = await collectSse(`${s.url}/api/v1/events?follow=false`, { token: s.token, until: () => false });
  return Number(events.at(-1)?.id ?? 0);
}
