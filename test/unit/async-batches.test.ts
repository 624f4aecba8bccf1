import assert from "node:assert/strict";
import { test } from "node:test";
import { batches } from "../../src/services/async-batches.ts";

test("items already in memory come as one batch; later ones as batches of their own", async () => {
  // The fourth item waits until the consumer has the first batch: no timer to race, so a
  // busy machine cannot make it look "already in memory".
  let releaseFourth = () => {};
  const fourthReleased = new Promise<void>((resolve) => {
    releaseFourth = resolve;
  });
  async function* source() {
    yield 1;
    yield 2;
    yield 3;
    await fourthReleased;
    yield 4;
  }
  const seen: number[][] = [];
  for await (const batch of batches(source(), 100)) {
    seen.push(batch);
    releaseFourth();
  }
  assert.deepEqual(seen, [[1, 2, 3], [4]]);
});

test("a batch is never larger than max, and nothing is lost or repeated", async () => {
  async function* source() {
    for (let i = 0; i < 25; i++) yield i;
  }
  const seen: number[][] = [];
  for await (const batch of batches(source(), 10)) seen.push(batch);
  assert.ok(seen.every((batch) => batch.length <= 10));
  assert.deepEqual(
    seen.flat(),
    Array.from({ length: 25 }, (_, i) => i),
  );
});

test("leaving early closes the source", async () => {
  let closed = false;
  async function* source() {
    try {
      for (let i = 0; ; i++) {
        yield i;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } finally {
      closed = true;
    }
  }
  for await (const batch of batches(source(), 10)) if (batch.includes(2)) break;
  assert.equal(closed, true);
});
