// What ends a sandbox's supervisor is said in an event, and the sandbox comes back; what a
// command does to memory kills the command, not the supervisor.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readSse } from "../../src/cli/client.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("the supervisor under attack from its own sandbox", () => {
  let s: TestServer;
  before(async () => {
    // 256 MiB: enough for the supervisor, small enough for one command to exhaust it.
    s = await startTestServer("embedded", { sandboxMemoryMb: 256 });
    await api(s, "POST", "/api/v1/projects", { body: { name: "survive" } });
  });
  after(async () => s?.close());

  test("a command that eats all the memory is killed; the supervisor and the sandbox carry on", async (t) => {
    const box = await runningSandbox(s, "survive");
    const scores = await exec(s, box.id, [
      "sh",
      "-c",
      "cat /proc/$(pgrep -f /opt/outpost/supervisor.js | head -1)/oom_score_adj; cat /proc/self/oom_score_adj",
    ]);
    const [supervisorScore, commandScore] = scores.stdout.trim().split("\n").map(Number);
    assert.ok(commandScore > supervisorScore, `commands (${commandScore}) are killed before the supervisor (${supervisorScore})`);

    const hog = await exec(s, box.id, ["/opt/outpost/bin/node", "-e", "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));"]);
    assert.equal(hog.signal, "SIGKILL", `the hog was OOM-killed: ${JSON.stringify(hog)}`);
    assert.equal((await exec(s, box.id, ["echo", "alive"])).stdout, "alive\n");
    const current = (await api(s, "GET", `/api/v1/sandboxes/${box.id}`)).body;
    assert.equal(current.phase, "running");
    t.diagnostic(`supervisor oom_score_adj ${supervisorScore}, commands ${commandScore}`);
  });

  test("a supervisor killed from inside ends the sandbox; an event says why, and the sandbox is started again with its files", async () => {
    const box = await runningSandbox(s, "survive");
    await exec(s, box.id, ["sh", "-c", "echo kept > /workspace/kept.txt"]);
    await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: ["sh", "-c", "kill -9 $(pgrep -f /opt/outpost/supervisor.js)"] } });

    const events = await fetch(`${s.url}/api/v1/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: AbortSignal.timeout(60_000) });
    // The loss, then the sandbox running again: read the stream until both have happened.
    let lost: any;
    for await (const event of readSse(events.body as ReadableStream<Uint8Array>)) {
      const { data } = event.data as { data: { sandboxId?: string; phase?: string } };
      if (data.sandboxId !== box.id) continue;
      if (event.event === "sandbox.lost") lost = data;
      if (lost && event.event === "sandbox.phase" && data.phase === "running") break;
    }
    assert.match(lost?.reason ?? "", /signal 9|code 137/, `the reason names the kill: ${lost?.reason}`);
    assert.equal((await exec(s, box.id, ["cat", "/workspace/kept.txt"])).stdout, "kept\n");
  });
});
