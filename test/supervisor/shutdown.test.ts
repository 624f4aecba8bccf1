// SIGTERM to the supervisor: every process group gets SIGTERM, those still there after
// the grace get SIGKILL, journals record how each ended, in-flight execs get their exit
// line, and the supervisor exits 0.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { ExecEvent } from "../../src/supervisor/protocol.ts";
import { collectLogs, processGone, startDaemon, stopAllDaemons, streamText, waitUntil } from "./helpers.ts";

after(stopAllDaemons);

describe("supervisor shutdown", () => {
  test("SIGTERM stops every process (SIGKILL after the grace for the stubborn), journals how they ended and exits 0", async () => {
    const daemon = await startDaemon({ args: ["--kill-grace-ms", "500"] });
    const polite = await daemon.client.startProcess({ command: ["sleep", "1000"] });
    const stubborn = await daemon.client.startProcess({ command: "trap '' TERM; echo ready; while :; do sleep 0.05; done" });
    await waitUntil(
      "the stubborn process ignores SIGTERM",
      async () => streamText((await collectLogs(daemon.client, stubborn.id)).records, "stdout") === "ready\n",
    );

    const execEvents: ExecEvent[] = [];
    const execDone = (async () => {
      for await (const event of await daemon.client.exec({ command: ["sleep", "1000"] })) execEvents.push(event);
    })();
    await waitUntil("the exec started", () => execEvents.length > 0);

    assert.equal(await daemon.stop(), 0);
    await execDone;
    assert.deepEqual(execEvents.at(-1) && { ...execEvents.at(-1), durationMs: 0 }, {
      type: "exit",
      exitCode: null,
      signal: "SIGTERM",
      timedOut: false,
      durationMs: 0,
    });

    const meta = (id: string) => JSON.parse(readFileSync(join(daemon.stateDir, "processes", id, "meta.json"), "utf8"));
    assert.deepEqual([meta(polite.id).status, meta(polite.id).signal], ["exited", "SIGTERM"]);
    assert.deepEqual([meta(stubborn.id).status, meta(stubborn.id).signal], ["exited", "SIGKILL"]);
    assert.ok(processGone(polite.pid) && processGone(stubborn.pid));
    assert.equal((await daemon.exited).code, 0, "a clean exit");
  });
});
