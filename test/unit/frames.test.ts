// Binary frames: bytes as bytes on the link and the API. Pure.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeFrame, encodeJsonFrame, FRAME, FrameDecoder, FrameError, frameJson } from "../../src/supervisor/frames.ts";

describe("binary frames", () => {
  test("frames split at any byte come out whole and in order, bytes untouched", () => {
    const payload = Buffer.from([0, 10, 13, 255, 34, 92]);
    const stream = Buffer.concat([
      encodeJsonFrame(FRAME.started, { pid: 7 }),
      encodeFrame(FRAME.stdout, payload),
      encodeFrame(FRAME.stderr),
      encodeJsonFrame(FRAME.exit, { exitCode: 0 }),
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const decoder = new FrameDecoder();
      const frames = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      assert.deepEqual(
        frames.map((f) => f.type),
        [FRAME.started, FRAME.stdout, FRAME.stderr, FRAME.exit],
      );
      assert.deepEqual(frames[1]?.payload, payload);
      assert.deepEqual(frameJson(frames[0]!), { pid: 7 });
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  test("an unknown type or an oversized length is refused before any payload is buffered", () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from([42, 0, 0, 0, 1, 0])), FrameError);
    const huge = Buffer.alloc(5);
    huge[0] = FRAME.stdout;
    huge.writeUInt32BE(0xffffffff, 1);
    assert.throws(() => new FrameDecoder().push(huge), /larger than/);
  });

  test("a control frame must hold a JSON object", () => {
    assert.throws(() => frameJson({ type: FRAME.exit, payload: Buffer.from("[1]") }), FrameError);
    assert.throws(() => frameJson({ type: FRAME.exit, payload: Buffer.from("{") }), FrameError);
  });
});
