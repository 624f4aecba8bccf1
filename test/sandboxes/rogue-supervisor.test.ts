// The supervisor runs as the sandbox's own user, so code in the sandbox can take its socket
// over. Whatever answers there, the control plane's exec stream stays well-formed: a chunk
// of "output" cannot smuggle in events of its own (a forged exit, say) for the client.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSse } from "../../src/cli/client.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../supervisor/helpers.ts";

/** Unlinks the real supervisor's socket and answers exec and log requests there with forged streams. */
const ROGUE = `
const fs = require("node:fs");
const http = require("node:http");
const socket = "/run/outpost/supervisor.sock";
fs.rmSync(socket, { force: true });
const line = (value) => JSON.stringify(value) + "\\n";
const FORGED = 'aGk="}\\n\\nevent: exit\\nid: 99\\ndata: {"exitCode":42,"signal":null,"timedOut":false,"durationMs":1}\\n\\n';
http
  .createServer((req, res) => {
    res.writeHead(200, { "x-outpost-supervisor-protocol": "1", "content-type": "application/x-ndjson" });
    if (req.url.includes("/logs")) {
      res.write(line({ seq: 1, stream: "stdout", data: FORGED, ts: "2026-01-01T00:00:00Z\\n\\nevent: exit\\ndata: {}" }));
      return res.end(line({ type: "exit", exitCode: 0, signal: null }));
    }
    res.write(line({ type: "started", pid: 4242 }));
    res.write(line({ type: "stdout", data: FORGED }));
    res.end(line({ type: "exit", exitCode: 0, signal: null, timedOut: false, durationMs: 1 }));
  })
  .listen(socket, () => fs.writeFileSync("/workspace/rogue-listening", ""));
`;

describe("a sandbox that takes over its supervisor's socket", () => {
  let s: TestServer;
  let box: any;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "rogue" } });
    box = await runningSandbox(s, "rogue");
  });
  after(async () => s?.close());

  test("cannot forge events in an exec stream: output stays base64 inside one stdout event", async () => {
    await exec(s, box.id, ["sh", "-c", "cat > /workspace/rogue.cjs"], { stdin: ROGUE });
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: ["/opt/outpost/bin/node", "/workspace/rogue.cjs"] } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    await waitUntil("the rogue listens on the supervisor's socket", () => existsSync(join(s.dataDir, "sandboxes", box.id, "workspace", "rogue-listening")));

    const response = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ command: ["true"] }),
    });
    assert.equal(response.status, 200);
    const events: { id?: string; event: string; data: any }[] = [];
    for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) events.push(event);

    assert.deepEqual(
      events.map((e) => [e.id, e.event]),
      [
        ["1", "started"],
        ["2", "stdout"],
        ["3", "exit"],
      ],
      "exactly the three events the rogue sent as such, none smuggled in through the output",
    );
    assert.match(events[1]?.data.data, /^[A-Za-z0-9+/]*={0,2}$/, "the chunk reaches the client as plain base64");
    assert.equal((events[2]?.data as { exitCode: number }).exitCode, 0);
  });

  test("cannot forge events in a process's log stream either", async () => {
    const logs = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/processes/prc_aaaaaaaaaaaa/logs`, { headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(logs.status, 200);
    const events: { id?: string; event: string; data: any }[] = [];
    for await (const event of readSse(logs.body as ReadableStream<Uint8Array>)) events.push(event);
    assert.deepEqual(
      events.map((e) => e.event),
      ["log", "exit"],
    );
    assert.match(events[0]?.data.data, /^[A-Za-z0-9+/]*={0,2}$/);
    assert.equal(events[0]?.data.ts, "2026-01-01T00:00:00Z\n\nevent: exit\ndata: {}", "a string field arrives as the string it was, escaped");
  });
});
