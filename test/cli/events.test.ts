// `outpost events [--follow]` as a user runs it, against a real `outpost serve`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiJson, childEnv, exitOf, type OutpostServer, OutputWatcher, runCli, STACK_FRAME, spawnOutpost, startOutpost, stopProcess } from "./harness.ts";

interface Event {
  id: number;
  type: string;
  projectId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
}

let server: OutpostServer;
const outpost = (...args: string[]) => runCli(args, server.cliEnv);

async function createProject(name: string): Promise<{ id: string }> {
  const created = await apiJson<{ id: string }>(server, "POST", "/api/v1/projects", { name });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

before(async () => {
  server = await startOutpost();
  await createProject("ev-one");
  await createProject("ev-two");
});

after(async () => {
  await server?.stop();
});

describe("outpost events", () => {
  test("events prints the project.created events and exits 0", async () => {
    const result = await outpost("events");
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0] ?? "", /^\d+\t\d{4}-\d\d-\d\dT[^\t]+\tproject\.created\t\{"name":"ev-one"\}$/);
    assert.match(lines[1] ?? "", /^\d+\t[^\t]+\tproject\.created\t\{"name":"ev-two"\}$/);
  });

  test("events --json prints one API event object per line", async () => {
    const result = await outpost("events", "--json");
    assert.equal(result.code, 0, result.stderr);
    const events = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Event);
    assert.deepEqual(
      events.map((e) => [e.type, e.data]),
      [
        ["project.created", { name: "ev-one" }],
        ["project.created", { name: "ev-two" }],
      ],
    );
    for (const event of events) {
      assert.deepEqual(Object.keys(event).sort(), ["createdAt", "data", "id", "projectId", "type"]);
      assert.match(event.projectId ?? "", /^prj_/);
    }
  });

  test("events --after ID prints only the events after that one", async () => {
    const all = (await outpost("events", "--json")).stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Event);
    const first = all[0];
    assert.ok(first);
    const result = await outpost("events", "--after", String(first.id), "--json");
    assert.equal(result.code, 0, result.stderr);
    const later = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Event);
    assert.deepEqual(
      later.map((e) => e.data),
      [{ name: "ev-two" }],
    );
  });

  // The CLI sends --after as a Last-Event-ID header, which the server ignores unless it is a
  // number: `--after abc` silently prints the whole log from the start. `?after=abc` is a 400.
  test("events --after with something that is not an event id is refused, not ignored", async () => {
    const result = await outpost("events", "--after", "abc");
    assert.ok(result.code === 1 || result.code === 2, `exit code ${result.code}; stdout:\n${result.stdout}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /after/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("events --project shows only that project's events", async () => {
    const result = await outpost("events", "--project", "ev-two");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /"name":"ev-two"/);
    assert.doesNotMatch(result.stdout, /ev-one/);
  });

  test("events --project with an unknown project exits 1 naming it", async () => {
    const result = await outpost("events", "--project", "no-such-project");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no-such-project/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("events --follow prints an event that happens after it started, and Ctrl-C stops it", async () => {
    const child = spawnOutpost(["events", "--follow"], childEnv(server.cliEnv));
    const stdout = new OutputWatcher(child.stdout);
    const stderr = new OutputWatcher(child.stderr);
    const exited = exitOf(child);
    try {
      // The first existing event means the stream is open; only then does the new one happen.
      await stdout.waitFor(/project\.created\t\{"name":"ev-one"\}\n/, { exited, what: "the existing ev-one event" });
      await createProject("ev-live");
      await stdout.waitFor(/^\d+\t[^\t]+\tproject\.created\t\{"name":"ev-live"\}$/m, { exited, what: "the ev-live event" });
      await apiJson(server, "DELETE", "/api/v1/projects/ev-live");
      await stdout.waitFor(/^\d+\t[^\t]+\tproject\.deleted\t\{"name":"ev-live"\}$/m, { exited, what: "the ev-live deletion" });

      const { code } = await stopProcess(child, "SIGINT");
      assert.equal(code, 0, `stderr: ${stderr.text}`);
      assert.equal(stderr.text, "");
    } finally {
      await stopProcess(child, "SIGKILL").catch(() => {});
    }
  });

  test("events --follow --json prints each new event once, as the API's JSON", async () => {
    const child = spawnOutpost(["events", "--follow", "--json", "--project", "ev-two"], childEnv(server.cliEnv));
    const stdout = new OutputWatcher(child.stdout);
    const exited = exitOf(child);
    try {
      await stdout.waitFor(/"name":"ev-two"/, { exited, what: "the existing ev-two event" });
      await apiJson(server, "PATCH", "/api/v1/projects/ev-two", { env: { FOLLOWED: "yes" } });
      await stdout.waitFor(/"type":"project\.updated"/, { exited, what: "the ev-two update" });
      await stopProcess(child, "SIGINT");
      const events = (await stdout.drained())
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Event);
      assert.deepEqual(
        events.map((e) => e.type),
        ["project.created", "project.updated"],
      );
      assert.equal(new Set(events.map((e) => e.id)).size, events.length);
      assert.ok(!JSON.stringify(events).includes('"yes"'), "env values never appear in events");
    } finally {
      await stopProcess(child, "SIGKILL").catch(() => {});
    }
  });
});
