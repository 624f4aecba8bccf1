// An exec never outlives its caller: a timeout, an aborted client or a loop left early
// kill the command's whole process group, and what the command leaves behind in its
// group is killed when it exits.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ExecEvent } from "../../src/supervisor/protocol.ts";
import { type Daemon, execCollect, pidAlive, processGone, startDaemon, stopAllDaemons, waitUntil } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

/** A shell that starts a background sleep, prints its pid, then waits: a two-process group. */
const TREE = "sleep 1000 & echo $!; wait";

const decode = (event: ExecEvent) => (event.type === "stdout" ? Buffer.from(event.data, "base64").toString() : "");

describe("exec lifecycle", () => {
  test("a timeout kills the whole process group and says timedOut", async () => {
    const result = await execCollect(daemon.client, { command: TREE, timeoutMs: 300 });
    assert.equal(result.exit.timedOut, true);
    assert.equal(result.exit.signal, "SIGKILL");
    assert.equal(result.exit.exitCode, null);
    const grandchild = Number(result.stdout.trim());
    await waitUntil("the command and its background child are gone", () => processGone(result.pid) && processGone(grandchild));
  });

  test("aborting the client's signal kills the process group (no leaked process)", async () => {
    const controller = new AbortController();
    let leader = 0;
    let grandchild = 0;
    await assert.rejects(async () => {
      for await (const event of await daemon.client.exec({ command: TREE }, { signal: controller.signal })) {
        if (event.type === "started") leader = event.pid;
        if (event.type === "stdout") {
          grandchild = Number(decode(event).trim());
          controller.abort();
        }
      }
    }, /abort/i);
    assert.ok(leader > 0 && grandchild > 0);
    await waitUntil("the aborted command's processes are gone", () => processGone(leader) && processGone(grandchild));
    // processGone accepts a zombie; the daemon must also reap its child, or zombies pile up.
    await waitUntil("the daemon reaped the aborted command", () => !pidAlive(leader));
  });

  test("leaving the loop early closes the connection and kills the command", async () => {
    let leader = 0;
    for await (const event of await daemon.client.exec({ command: ["sleep", "1000"] })) {
      if (event.type === "started") {
        leader = event.pid;
        break;
      }
    }
    await waitUntil("the abandoned command is gone", () => processGone(leader));
  });

  test("an already aborted signal never starts the command", async () => {
    await assert.rejects(daemon.client.exec({ command: ["true"] }, { signal: AbortSignal.abort() }), /abort/i);
  });

  test("what a command leaves running in its group is killed when it exits, so exec returns", async () => {
    // The background sleep keeps stdout open; without the group kill this would hang.
    const result = await execCollect(daemon.client, { command: "sleep 1000 & echo $!" });
    assert.equal(result.exit.exitCode, 0);
    const leftover = Number(result.stdout.trim());
    await waitUntil("the leftover sleep is gone", () => processGone(leftover));
  });

  test("a process that escaped the group while holding the pipes cannot keep exec open", async () => {
    // The escapee writes its pid only after setsid(), so the leader exits once it is out of the group.
    const command = "setsid sh -c 'echo $$ > escaped; exec sleep 1000' & while [ ! -s escaped ]; do sleep 0.01; done; echo started";
    const result = await execCollect(daemon.client, { command });
    assert.equal(result.stdout, "started\n");
    assert.equal(result.exit.exitCode, 0);
    const escaped = Number(readFileSync(join(daemon.workspace, "escaped"), "utf8"));
    assert.ok(!processGone(escaped), "the escapee is outside the group, so it was not killed");
    process.kill(escaped, "SIGKILL");
  });
});
