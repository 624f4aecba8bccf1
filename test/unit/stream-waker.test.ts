import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { StreamWaker } from "../../src/api/stream-waker.ts";

function hub() {
  const emitter = new EventEmitter();
  return {
    wake: () => emitter.emit("wake"),
    subscribe: (fn: () => void) => {
      emitter.on("wake", fn);
      return () => emitter.off("wake", fn);
    },
    listeners: () => emitter.listenerCount("wake"),
  };
}

test("a wake-up during a read makes the next wait return at once", async () => {
  const h = hub();
  const waker = new StreamWaker(h, new AbortController().signal, 3_600_000);
  waker.beforeRead();
  h.wake(); // arrives while the (imagined) read is under way
  await waker.wait(); // would hang for an hour otherwise
  waker.close();
  assert.equal(h.listeners(), 0);
});

test("a wait ends on a wake-up, and on abort", async () => {
  const h = hub();
  const controller = new AbortController();
  const waker = new StreamWaker(h, controller.signal, 3_600_000);
  waker.beforeRead();
  const woken = waker.wait();
  h.wake();
  await woken;
  waker.beforeRead();
  const aborted = waker.wait();
  controller.abort();
  await aborted;
  waker.close();
});
