// The supervisor runs as the sandbox's own user, so code in the sandbox can stand in for it.
// Protocol 1 let it replace the socket the supervisor listened on; now the supervisor dials
// out to a socket in a folder the sandbox sees read-only, so that attack is gone. What is
// left by design is taking over the link (stop the supervisor, dial with the sandbox's
// token: a newer link replaces the older one). Whatever then answers, the control plane's
// streams stay well-formed: a chunk of "output" cannot smuggle in events of its own (a
// forged exit, say) for the client.
// The other rogue-*.test.ts files cover sizes, deadlines, malformed values, slow readers
// and isolation; rogue.ts is the rogue.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSse } from "../../src/cli/client.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { FORGED, type Rogue, takeOver } from "./rogue.ts";

describe("code in a sandbox against its own supervisor link", () => {
  let s: TestServer;
  let box: any;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "rogue" } });
    box = await runningSandbox(s, "rogue");
  });
  after(async () => s?.close());

  test("cannot replace, redirect or move what is in /run/outpost, and exec still works after trying", async () => {
    const linkDir = join(s.dataDir, "sandboxes", box.id, "link");
    const before = readdirSync(linkDir).sort();
    const token = readFileSync(join(linkDir, "token"), "utf8");
    const attempts = [
      "rm -f /run/outpost/link.sock",
      "ln -sf /tmp/evil.sock /run/outpost/link.sock",
      "mv /run/outpost/token /tmp/token",
      "echo forged > /run/outpost/token",
      "touch /run/outpost/supervisor.sock",
    ];
    for (const attempt of attempts) {
      const res = await exec(s, box.id, ["sh", "-c", `{ ${attempt}; } 2>&1`]);
      assert.notEqual(res.exitCode, 0, `'${attempt}' succeeded inside the sandbox: ${res.stdout}`);
      assert.match(res.stdout, /Read-only file system/, `'${attempt}' failed for another reason: ${res.stdout}`);
    }
    assert.deepEqual(readdirSync(linkDir).sort(), before, "the host's link folder is unchanged");
    assert.equal(readFileSync(join(linkDir, "token"), "utf8"), token);
    assert.equal((await exec(s, box.id, ["echo", "still here"])).stdout, "still here\n");
  });

  describe("once a rogue holds the link", () => {
    let rogue: Rogue;
    before(async () => {
      rogue = await takeOver(s, box.id, "forge");
    });
    after(async () => rogue?.restore());

    /** Every SSE event of a response, as the CLI's parser reads it. */
    const sse = async (response: Response) => {
      const events: { id?: string; event: string; data: any }[] = [];
      for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) events.push(event);
      return events;
    };
    const execStream = (command: string[]) =>
      fetch(`${s.url}/api/v1/sandboxes/${box.id}/exec`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ command }),
      });

    test("output that looks like SSE reaches an exec stream as one base64 stdout event", async () => {
      const response = await execStream(["base64"]);
      assert.equal(response.status, 200);
      const events = await sse(response);
      assert.deepEqual(
        events.map((e) => [e.id, e.event]),
        [
          ["1", "started"],
          ["2", "stdout"],
          ["3", "exit"],
        ],
        "exactly the three events the rogue sent as such, none smuggled in through the output",
      );
      assert.equal(events[0]?.data.pid, 4242, "the rogue, not the real supervisor, answered");
      assert.equal(Buffer.from(events[1]?.data.data, "base64").toString(), FORGED, "the output arrives whole, as data");
      assert.equal(events[2]?.data.exitCode, 0);
    });

    test("a chunk that is not base64 ends the exec stream with an error event, and nothing forged follows", async () => {
      const response = await execStream(["raw"]);
      assert.equal(response.status, 200);
      const events = await sse(response);
      assert.deepEqual(
        events.map((e) => [e.id, e.event]),
        [
          ["1", "started"],
          [undefined, "error"],
        ],
      );
      assert.equal(events[1]?.data.code, "SUPERVISOR_BAD_RESPONSE");
    });

    test("cannot forge events in a process's log stream either: a record with a forged field ends it with an error event", async () => {
      const logs = await fetch(`${s.url}/api/v1/sandboxes/${box.id}/processes/prc_aaaaaaaaaaaa/logs`, { headers: { authorization: `Bearer ${s.token}` } });
      assert.equal(logs.status, 200);
      const events = await sse(logs);
      assert.deepEqual(
        events.map((e) => [e.id, e.event]),
        [
          ["1", "log"],
          [undefined, "error"],
        ],
        "the good record, then the control plane's own error: no exit, forged or sent",
      );
      assert.equal(Buffer.from(events[0]?.data.data, "base64").toString(), FORGED);
      assert.equal(events[1]?.data.code, "SUPERVISOR_BAD_RESPONSE");
    });
  });
});
