// The benchmark's frame counter (bench/lib/frame-count.ts): counts what FrameDecoder would
// decode, with headers and payloads cut at any byte. Pure.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FrameCounter } from "../../bench/lib/frame-count.ts";
import { encodeFrame, encodeJsonFrame, FRAME } from "../../src/supervisor/frames.ts";

describe("bench frame counter", () => {
  const stream = Buffer.concat([
    encodeJsonFrame(FRAME.started, { pid: 7 }),
    encodeFrame(FRAME.stdout, Buffer.alloc(70_000, 1)),
    encodeFrame(FRAME.stderr, "oops\n"),
    encodeFrame(FRAME.stdout),
    encodeFrame(FRAME.stdout, Buffer.from([0, 255, 4, 0, 0])),
    encodeJsonFrame(FRAME.exit, { exitCode: 0, signal: null }),
  ]);

  const check = (counter: FrameCounter) => {
    assert.equal(counter.count.stdoutBytes, 70_005);
    assert.equal(counter.count.stderrBytes, 5);
    assert.equal(counter.count.stderr, "oops\n");
    assert.equal(counter.count.frames, 6);
    assert.deepEqual(counter.count.started, { pid: 7 });
    assert.deepEqual(counter.count.exit, { exitCode: 0, signal: null });
    assert.equal(counter.pendingBytes, 0);
  };

  test("one chunk, two chunks cut at every byte of the control frames and headers", () => {
    const whole = new FrameCounter();
    whole.push(stream);
    check(whole);
    const cuts = [...Array.from({ length: 30 }, (_, i) => i + 1), ...Array.from({ length: 60 }, (_, i) => stream.length - 60 + i)];
    for (const cut of cuts) {
      const counter = new FrameCounter();
      counter.push(stream.subarray(0, cut));
      counter.push(stream.subarray(cut));
      check(counter);
    }
  });

  test("byte by byte", () => {
    const counter = new FrameCounter();
    for (let i = 0; i < stream.length; i++) counter.push(stream.subarray(i, i + 1));
    check(counter);
  });

  test("a cut-off stream leaves bytes pending; garbage is refused", () => {
    const counter = new FrameCounter();
    counter.push(stream.subarray(0, 20));
    assert.ok(counter.pendingBytes > 0);
    assert.throws(() => new FrameCounter().push(Buffer.from([42, 0, 0, 0, 1, 0])), /unknown frame type/);
    assert.throws(() => new FrameCounter().push(Buffer.from([1, 0x7f, 0, 0, 0])), /more than/);
  });
});
