// Background processes: start, list, get, logs (from an offset, following until exit),
// signals to the whole process group, and the errors around them.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { collectLogs, type Daemon, processGone, startDaemon, stopAllDaemons, streamText, waitUntil } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

const childIsSleep = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep\0");
  } catch {
    return false;
  }
};

const exited = async (id: string) => (await daemon.client.getProcess(id)).status === "exited";

describe("background processes", () => {
  test("start answers with the running Process, and list and get show it", async () => {
    const started = await daemon.client.startProcess({ command: ["sleep", "1000"], name: "sleeper" });
    assert.match(started.id, /^prc_[a-z0-9]{12}$/);
    assert.deepEqual(
      { ...started, pid: 0, startedAt: "" },
      {
        id: started.id,
        name: "sleeper",
        command: ["sleep", "1000"],
        cwd: daemon.workspace,
        pid: 0,
        status: "running",
        exitCode: null,
        signal: null,
        startedAt: "",
        endedAt: null,
      },
    );
    assert.ok(started.pid > 0 && !processGone(started.pid));
    assert.ok(!Number.isNaN(Date.parse(started.startedAt)));
    assert.deepEqual(await daemon.client.getProcess(started.id), started);
    assert.ok((await daemon.client.listProcesses()).items.some((item) => item.id === started.id));

    const signalled = await daemon.client.signalProcess(started.id, "SIGTERM");
    assert.equal(signalled.id, started.id);
    await waitUntil("the sleeper exited", () => exited(started.id));
    const ended = await daemon.client.getProcess(started.id);
    assert.equal(ended.exitCode, null);
    assert.equal(ended.signal, "SIGTERM");
    assert.ok(ended.endedAt && Date.parse(ended.endedAt) >= Date.parse(ended.startedAt));
  });

  test("logs hold stdout and stderr as numbered records, and after= skips what the client already has", async () => {
    const { id } = await daemon.client.startProcess({ command: "for i in 1 2 3; do echo $i; echo e$i >&2; done; exit 4" });
    const all = await collectLogs(daemon.client, id, { follow: true });
    assert.deepEqual(
      all.records.map((record) => record.seq),
      all.records.map((_, index) => index + 1),
    );
    assert.equal(streamText(all.records, "stdout"), "1\n2\n3\n");
    assert.equal(streamText(all.records, "stderr"), "e1\ne2\ne3\n");
    assert.ok(all.records.every((record) => !Number.isNaN(Date.parse(record.ts))));
    assert.equal(all.exit?.exitCode, 4);
    assert.equal(all.exit?.signal, null);

    const rest = await collectLogs(daemon.client, id, { after: 2 });
    assert.deepEqual(rest.records, all.records.slice(2));
    assert.equal(rest.exit?.exitCode, 4, "an exited process's logs end with the exit line even without follow");
    const none = await collectLogs(daemon.client, id, { after: all.records.length });
    assert.deepEqual(none.records, []);
  });

  test("follow streams records as they are written and ends with the exit line", async () => {
    const { id } = await daemon.client.startProcess({ command: "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second" });
    const seen: string[] = [];
    let exitCode: number | null | undefined;
    for await (const line of await daemon.client.processLogs(id, { follow: true, signal: AbortSignal.timeout(30_000) })) {
      if ("seq" in line) {
        seen.push(Buffer.from(line.data, "base64").toString());
        // Only once "first" arrived live does the process get to write "second".
        if (seen.length === 1) writeFileSync(join(daemon.workspace, "go"), "");
      } else {
        exitCode = line.exitCode;
      }
    }
    assert.deepEqual(seen.join(""), "first\nsecond\n");
    assert.equal(exitCode, 0);
  });

  test("without follow the answer ends after the current records while the process still runs", async () => {
    const { id } = await daemon.client.startProcess({ command: "echo hello; exec sleep 1000" });
    await waitUntil("the first record is journaled", async () => (await collectLogs(daemon.client, id)).records.length > 0);
    const logs = await collectLogs(daemon.client, id);
    assert.equal(streamText(logs.records, "stdout"), "hello\n");
    assert.equal(logs.exit, undefined);
    await daemon.client.signalProcess(id, "SIGKILL");
    await waitUntil("the process exited", () => exited(id));
    assert.equal((await daemon.client.getProcess(id)).signal, "SIGKILL");
  });

  test("a signal reaches the whole process group, not only its leader", async () => {
    // The leader traps USR1 and survives; its child sleep has the default action and dies.
    const { id } = await daemon.client.startProcess({ command: "trap 'echo leader-got-usr1' USR1; sleep 1000 & echo $!; wait; exec sleep 1000" });
    let child = 0;
    await waitUntil("the child's pid is logged", async () => {
      child = Number(streamText((await collectLogs(daemon.client, id)).records, "stdout").split("\n")[0]);
      return child > 0;
    });
    // Between fork and exec the child is still a bash with the leader's trap installed, and a
    // USR1 landing there is trapped, not fatal: signal only once the child is `sleep` itself.
    await waitUntil("the child has exec'd sleep", () => childIsSleep(child));
    await daemon.client.signalProcess(id, "SIGUSR1");
    await waitUntil("the child died of SIGUSR1", () => processGone(child));
    await waitUntil("the leader ran its trap", async () => streamText((await collectLogs(daemon.client, id)).records, "stdout").includes("leader-got-usr1"));
    assert.equal((await daemon.client.getProcess(id)).status, "running");
    await daemon.client.signalProcess(id, "SIGKILL");
    await waitUntil("the process exited", () => exited(id));
  });

  test("signalling a process that has exited is 409 PROCESS_NOT_RUNNING", async () => {
    const { id } = await daemon.client.startProcess({ command: ["true"] });
    await waitUntil("true exited", () => exited(id));
    assert.equal((await daemon.client.getProcess(id)).exitCode, 0);
    await assert.rejects(daemon.client.signalProcess(id, "SIGTERM"), { code: "PROCESS_NOT_RUNNING", status: 409 });
  });

  test("an unknown process is 404 PROCESS_NOT_FOUND for get, logs and signal", async () => {
    const id = "prc_000000000000";
    await assert.rejects(daemon.client.getProcess(id), { code: "PROCESS_NOT_FOUND", status: 404 });
    await assert.rejects(daemon.client.processLogs(id), { code: "PROCESS_NOT_FOUND", status: 404 });
    await assert.rejects(daemon.client.signalProcess(id, "SIGTERM"), { code: "PROCESS_NOT_FOUND", status: 404 });
    await assert.rejects(daemon.client.getProcess("../../etc"), { code: "PROCESS_NOT_FOUND" });
  });

  test("a command that does not exist is 422 COMMAND_NOT_FOUND and leaves no journal behind", async () => {
    const dir = join(daemon.stateDir, "processes");
    const before = existsSync(dir) ? readdirSync(dir).length : 0;
    await assert.rejects(daemon.client.startProcess({ command: ["no-such-program-xyz"] }), { code: "COMMAND_NOT_FOUND", status: 422 });
    assert.equal(existsSync(dir) ? readdirSync(dir).length : 0, before);
  });
});
