// The process journal on disk: its layout, its survival across a supervisor killed with
// SIGKILL, what a new supervisor makes of processes that were running, and the log cap.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { collectLogs, processGone, startDaemon, stopAllDaemons, streamText, tempDir, waitUntil } from "./helpers.ts";

after(stopAllDaemons);

describe("process journal", () => {
  test("each process has meta.json (the Process) and an append-only log.ndjson of seq-numbered records", async () => {
    const daemon = await startDaemon();
    const { id } = await daemon.client.startProcess({ command: "echo out; echo err >&2", name: "layout" });
    const { exit } = await collectLogs(daemon.client, id, { follow: true });
    assert.equal(exit?.exitCode, 0);
    const dir = join(daemon.stateDir, "processes", id);
    assert.deepEqual(readdirSync(dir).sort(), ["log.ndjson", "meta.json"], "no temporary files are left behind");
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")), await daemon.client.getProcess(id));
    const lines = readFileSync(join(dir, "log.ndjson"), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((line) => line.seq),
      lines.map((_, index) => index + 1),
    );
    assert.deepEqual(new Set(lines.map((line) => line.stream)), new Set(["stdout", "stderr"]));
    assert.deepEqual(Object.keys(lines[0]), ["seq", "stream", "data", "ts"]);
  });

  test("a finished process's logs and exit status survive kill -9 of the supervisor", async () => {
    const dir = tempDir();
    const first = await startDaemon({ dir });
    const { id } = await first.client.startProcess({ command: "echo kept; echo also >&2; exit 3" });
    const before = await collectLogs(first.client, id, { follow: true });
    const finished = await first.client.getProcess(id);
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await startDaemon({ dir });
    assert.deepEqual(await second.client.getProcess(id), finished);
    assert.equal(finished.exitCode, 3);
    const afterRestart = await collectLogs(second.client, id, { follow: true });
    assert.deepEqual(afterRestart, before);
    assert.equal(streamText(afterRestart.records, "stdout"), "kept\n");
  });

  test("a process that was running when the supervisor died and is gone now is recorded as killed", async () => {
    const dir = tempDir();
    const first = await startDaemon({ dir });
    const started = await first.client.startProcess({ command: ["sleep", "1000"] });
    first.child.kill("SIGKILL");
    await first.exited;
    // Without a pid namespace (tests) the process outlives its supervisor; end it ourselves.
    process.kill(-started.pid, "SIGKILL");
    await waitUntil("the orphan is gone", () => processGone(started.pid));

    const second = await startDaemon({ dir });
    const loaded = await second.client.getProcess(started.id);
    assert.equal(loaded.status, "exited");
    assert.equal(loaded.exitCode, null);
    assert.equal(loaded.signal, "SIGKILL");
    assert.ok(loaded.endedAt);
    assert.equal((await collectLogs(second.client, started.id, { follow: true })).exit?.signal, "SIGKILL");
  });

  test("a process still alive when a new supervisor starts is adopted: it can be signalled and is marked exited once gone", async () => {
    const dir = tempDir();
    const first = await startDaemon({ dir });
    const started = await first.client.startProcess({ command: ["sleep", "1000"] });
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await startDaemon({ dir });
    assert.equal((await second.client.getProcess(started.id)).status, "running");
    await second.client.signalProcess(started.id, "SIGTERM");
    await waitUntil("the adopted process is marked exited", async () => (await second.client.getProcess(started.id)).status === "exited");
    assert.ok(processGone(started.pid));
  });

  test("past the log cap nothing more is written but one system record, and the process is never blocked", async () => {
    const cap = 20_000;
    const daemon = await startDaemon({ args: ["--log-cap-bytes", String(cap)] });
    const { id } = await daemon.client.startProcess({ command: "head -c 1000000 /dev/zero | tr '\\0' a; echo finished" });
    const logs = await collectLogs(daemon.client, id, { follow: true });
    assert.equal(logs.exit?.exitCode, 0, "the process ran to its end although its output was dropped");
    const system = logs.records.filter((record) => record.stream === "system");
    assert.equal(system.length, 1);
    assert.equal(Buffer.from(system[0]!.data, "base64").toString(), "log truncated at cap");
    assert.equal(logs.records.at(-1), system[0], "the system record is the last one");
    const size = statSync(join(daemon.stateDir, "processes", id, "log.ndjson")).size;
    assert.ok(size <= cap + 200, `log is ${size} bytes for a cap of ${cap}`);
  });
});
