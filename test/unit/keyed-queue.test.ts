// Work per key runs one at a time, in order, whatever the earlier work's outcome; a caller
// with a signal stops waiting when it aborts (its work never starts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyedQueue } from "../../src/services/keyed-queue.ts";

test("one at a time per key, in order, after failures too; other keys run alongside", async () => {
  const queue = new KeyedQueue();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const first = queue.run("a", async () => {
    await gate;
    order.push("a1");
    throw new Error("a1 failed");
  });
  const second = queue.run("a", async () => order.push("a2"));
  await queue.run("b", async () => order.push("b1"));
  assert.deepEqual(order, ["b1"], "b did not wait for a");
  release();
  await assert.rejects(first, /a1 failed/);
  await second;
  assert.deepEqual(order, ["b1", "a1", "a2"]);
});

test("a waiter whose signal aborts is given up, and its work never runs", async () => {
  const queue = new KeyedQueue();
  let release!: () => void;
  const held = queue.run(
    "a",
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  );
  const controller = new AbortController();
  let ran = false;
  const waiting = queue.run(
    "a",
    async () => {
      ran = true;
    },
    controller.signal,
  );
  controller.abort(new Error("too slow"));
  await assert.rejects(waiting, /too slow/);
  release();
  await held;
  await queue.run("a", async () => {});
  assert.equal(ran, false);
});
