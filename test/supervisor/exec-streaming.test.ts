// Exec output streams with backpressure end to end: 100 MB arrive complete and in order
// while the daemon's memory stays bounded, and a client that stops reading blocks the
// command on its pipe instead of growing a buffer in the daemon.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Daemon, peakRssMiB, processGone, startDaemon, stopAllDaemons, waitUntil } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

describe("exec streaming", () => {
  test("100 MB of output arrive complete and in order while the daemon's peak RSS stays under 200 MB", async () => {
    // `seq 1 13000000` prints about 106 MB; each line is checked as it arrives, nothing is kept.
    const last = 13_000_000;
    let expected = 1;
    let carry = "";
    let bytes = 0;
    let exitCode: number | null | undefined;
    for await (const event of await daemon.client.exec({ command: ["seq", "1", String(last)] })) {
      if (event.type === "stdout") {
        const text = Buffer.from(event.data, "base64").toString("latin1");
        bytes += text.length;
        const lines = (carry + text).split("\n");
        carry = lines.pop() ?? "";
        for (const line of lines) {
          if (line !== String(expected)) assert.fail(`line ${expected} arrived as ${JSON.stringify(line.slice(0, 20))}`);
          expected++;
        }
      } else if (event.type === "exit") {
        exitCode = event.exitCode;
      }
    }
    assert.equal(carry, "");
    assert.equal(expected, last + 1);
    assert.ok(bytes > 100_000_000, `${bytes} bytes`);
    assert.equal(exitCode, 0);
    const peak = peakRssMiB(daemon.pid);
    assert.ok(peak < 200, `daemon peak RSS ${peak.toFixed(0)} MiB`);
  });

  test("a client that stops reading leaves the command blocked on its pipe and the daemon's memory flat", async () => {
    const controller = new AbortController();
    const events = (await daemon.client.exec({ command: ["yes", "backpressure"] }, { signal: controller.signal }))[Symbol.asyncIterator]();
    const started = await events.next();
    assert.ok(!started.done && started.value.type === "started");
    const pid = started.value.pid;
    // Read one chunk, then stop reading: the daemon must pause the child's stdout, so `yes`
    // blocks in write() (libuv's stdio "pipes" are socketpairs, hence either wait channel).
    assert.equal((await events.next()).value?.type, "stdout");
    const blockedInWrite = () => /pipe_write|sock_alloc_send/.test(readFileSync(`/proc/${pid}/wchan`, "utf8"));
    await waitUntil("yes is blocked writing its output", blockedInWrite);
    // Unthrottled, yes writes gigabytes per second; paused, it stops after a few buffers.
    const written = Number(/wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
    assert.ok(written < 16 * 1024 * 1024, `yes wrote ${written} bytes although nobody read them`);
    assert.ok(peakRssMiB(daemon.pid) < 200, `daemon peak RSS ${peakRssMiB(daemon.pid)} MiB`);
    controller.abort();
    await events.return?.();
    await waitUntil("the abandoned yes is gone", () => processGone(pid));
  });
});
