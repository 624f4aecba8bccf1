// Background processes an agent CLI can run as: stdin kept open as a pipe the control plane
// writes to (POST /v1/processes/{id}/input), and stdout journaled one record per line so a
// record's seq names one line (an agent's JSON event).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { MAX_LOG_LINE_RECORD_BYTES, MAX_PROCESS_INPUT_BYTES } from "../../src/supervisor/protocol-schemas.ts";
import { collectLogs, type Daemon, processGone, rawRequest, startDaemon, stopAllDaemons, streamText, tempDir, waitUntil } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

const exited = async (id: string) => (await daemon.client.getProcess(id)).status === "exited";
const records = async (id: string) => (await collectLogs(daemon.client, id)).records;
const text = (data: string) => Buffer.from(data, "base64").toString();

async function kill(id: string): Promise<void> {
  await daemon.client.signalProcess(id, "SIGKILL");
  await waitUntil("the process exited", () => exited(id));
}

describe("process stdin", () => {
  test("a piped process reads what is written, and eof ends its input", async () => {
    const started = await daemon.client.startProcess({ command: ["cat"], stdin: "pipe" });
    assert.equal(started.stdin, "pipe");
    assert.deepEqual(await daemon.client.writeProcessInput(started.id, "hello\n"), { written: 6 });
    await waitUntil("cat echoed the first write", async () => streamText(await records(started.id), "stdout") === "hello\n");
    assert.deepEqual(await daemon.client.writeProcessInput(started.id, Buffer.from("bye\n"), { eof: true }), { written: 4 });
    const logs = await collectLogs(daemon.client, started.id, { follow: true });
    assert.equal(streamText(logs.records, "stdout"), "hello\nbye\n");
    assert.equal(logs.exit?.exitCode, 0, "cat ended at the end of its input");
    const ended = await daemon.client.getProcess(started.id);
    assert.equal(ended.stdin, "closed");
  });

  test('a process started without stdin "pipe" reports no stdin and refuses input with 409 STDIN_CLOSED', async () => {
    const started = await daemon.client.startProcess({ command: ["sleep", "1000"] });
    assert.equal("stdin" in started, false);
    await assert.rejects(daemon.client.writeProcessInput(started.id, "x"), { code: "STDIN_CLOSED", status: 409 });
    await kill(started.id);
  });

  test("after eof further input is 409 STDIN_CLOSED, and the process shows stdin closed", async () => {
    // sleep never reads its stdin, so the process outlives the end of its input.
    const { id } = await daemon.client.startProcess({ command: ["sleep", "1000"], stdin: "pipe" });
    assert.deepEqual(await daemon.client.writeProcessInput(id, "", { eof: true }), { written: 0 });
    assert.equal((await daemon.client.getProcess(id)).stdin, "closed");
    await assert.rejects(daemon.client.writeProcessInput(id, "late"), { code: "STDIN_CLOSED", status: 409 });
    await kill(id);
  });

  test("a process that closed its own stdin makes a write 409 STDIN_CLOSED, and the supervisor carries on", async () => {
    const { id } = await daemon.client.startProcess({ command: "exec 0<&-; echo closed; exec sleep 1000", stdin: "pipe" });
    await waitUntil("the process closed its stdin", async () => streamText(await records(id), "stdout") === "closed\n");
    await assert.rejects(daemon.client.writeProcessInput(id, "nobody reads this\n"), { code: "STDIN_CLOSED", status: 409 });
    assert.equal((await daemon.client.getProcess(id)).stdin, "closed");
    assert.equal((await daemon.client.health()).protocol, 2, "the supervisor still answers");
    await kill(id);
  });

  test("input to a process that has exited is 409 PROCESS_NOT_RUNNING; to an unknown one 404", async () => {
    const { id } = await daemon.client.startProcess({ command: ["true"], stdin: "pipe" });
    await waitUntil("true exited", () => exited(id));
    await assert.rejects(daemon.client.writeProcessInput(id, "x"), { code: "PROCESS_NOT_RUNNING", status: 409 });
    await assert.rejects(daemon.client.writeProcessInput("prc_000000000000", "x"), { code: "PROCESS_NOT_FOUND", status: 404 });
  });

  test("more than 1 MiB in one call is 413; an unknown field or bad base64 is 400", async () => {
    const { id } = await daemon.client.startProcess({ command: ["sleep", "1000"], stdin: "pipe" });
    await assert.rejects(daemon.client.writeProcessInput(id, Buffer.alloc(MAX_PROCESS_INPUT_BYTES + 1)), {
      code: "PAYLOAD_TOO_LARGE",
      status: 413,
    });
    const post = (body: string) =>
      rawRequest(daemon, { method: "POST", path: `/v1/processes/${id}/input`, body, headers: { "content-type": "application/json" } });
    const unknown = await post(JSON.stringify({ data: "", eof: false, bogus: 1 }));
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body).error.code, "INVALID_REQUEST");
    assert.match(JSON.parse(unknown.body).error.message, /bogus/);
    const notBase64 = await post(JSON.stringify({ data: "not base64!" }));
    assert.equal(notBase64.status, 400);
    assert.match(JSON.parse(notBase64.body).error.message, /'data'/);
    await kill(id);
  });

  test("writes wait for a slow reader: 8 MiB in 1 MiB calls all arrive intact", async () => {
    // Reads a chunk, pauses, reads on: the pipe fills and each call waits for it to drain.
    const reader = `
      const hash = require("node:crypto").createHash("sha256");
      let bytes = 0;
      process.stdin.on("data", (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        process.stdin.pause();
        setTimeout(() => process.stdin.resume(), 2);
      });
      process.stdin.on("end", () => process.stdout.write(bytes + " " + hash.digest("hex") + "\\n"));`;
    const { id } = await daemon.client.startProcess({ command: [process.execPath, "-e", reader], stdin: "pipe" });
    const sent = createHash("sha256");
    const calls = 8;
    for (let call = 1; call <= calls; call++) {
      const chunk = randomBytes(MAX_PROCESS_INPUT_BYTES);
      sent.update(chunk);
      assert.deepEqual(await daemon.client.writeProcessInput(id, chunk, { eof: call === calls }), { written: chunk.length });
    }
    const logs = await collectLogs(daemon.client, id, { follow: true });
    assert.equal(logs.exit?.exitCode, 0);
    assert.equal(streamText(logs.records, "stdout"), `${calls * MAX_PROCESS_INPUT_BYTES} ${sent.digest("hex")}\n`);
  });
});

describe('journal "lines"', () => {
  test("stdout is journaled one record per line, a line split across writes included", async () => {
    const { id } = await daemon.client.startProcess({ command: ["cat"], stdin: "pipe", journal: "lines" });
    await daemon.client.writeProcessInput(id, "a\nb");
    await waitUntil("the first line is journaled", async () => (await records(id)).length === 1);
    await daemon.client.writeProcessInput(id, "c\n", { eof: true });
    const logs = await collectLogs(daemon.client, id, { follow: true });
    assert.deepEqual(
      logs.records.map((record) => text(record.data)),
      ["a\n", "bc\n"],
    );
    assert.deepEqual(
      logs.records.map((record) => record.seq),
      [1, 2],
    );
  });

  test("a last line without a newline is still journaled when the process ends", async () => {
    const { id } = await daemon.client.startProcess({ command: "printf 'one\\ntwo'; printf 'err' >&2", journal: "lines" });
    const logs = await collectLogs(daemon.client, id, { follow: true });
    const stdout = logs.records.filter((record) => record.stream === "stdout").map((record) => text(record.data));
    assert.deepEqual(stdout, ["one\n", "two"]);
    assert.equal(streamText(logs.records, "stderr"), "err", "stderr stays as it came");
  });

  test("a line longer than 512 KiB comes in 512 KiB pieces marked more, the last one unmarked", async () => {
    const length = 2 * MAX_LOG_LINE_RECORD_BYTES + 1000;
    const { id } = await daemon.client.startProcess({ command: `head -c ${length} /dev/zero | tr '\\0' x; echo; echo next`, journal: "lines" });
    const logs = await collectLogs(daemon.client, id, { follow: true });
    const pieces = logs.records.map((record) => ({ bytes: Buffer.from(record.data, "base64").length, more: record.more === true }));
    assert.deepEqual(pieces, [
      { bytes: MAX_LOG_LINE_RECORD_BYTES, more: true },
      { bytes: MAX_LOG_LINE_RECORD_BYTES, more: true },
      { bytes: 1001, more: false },
      { bytes: 5, more: false },
    ]);
    assert.equal(streamText(logs.records, "stdout"), `${"x".repeat(length)}\nnext\n`);
    assert.ok(
      logs.records.every((record) => record.more !== false),
      "more is only ever written as true",
    );
  });
});

describe("a piped process across a supervisor restart", () => {
  test("its journal is kept and its stdin, gone with the old supervisor, is reported closed", async () => {
    const dir = tempDir();
    const first = await startDaemon({ dir });
    // sleep ignores its stdin, so it outlives the pipe and the new supervisor adopts it.
    const started = await first.client.startProcess({ command: "echo ready; exec sleep 1000", stdin: "pipe", journal: "lines" });
    await waitUntil("the process wrote its line", async () => (await collectLogs(first.client, started.id)).records.length === 1);
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await startDaemon({ dir });
    const adopted = await second.client.getProcess(started.id);
    assert.equal(adopted.status, "running");
    assert.equal(adopted.stdin, "closed");
    assert.deepEqual(
      (await collectLogs(second.client, started.id)).records.map((record) => text(record.data)),
      ["ready\n"],
    );
    await assert.rejects(second.client.writeProcessInput(started.id, "x"), { code: "STDIN_CLOSED", status: 409 });
    await second.client.signalProcess(started.id, "SIGKILL");
    await waitUntil("the adopted process is marked exited", async () => (await second.client.getProcess(started.id)).status === "exited");
    assert.ok(processGone(started.pid));
  });
});
