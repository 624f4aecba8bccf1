// Groups what an async iterable has ready into batches: after each item, the items that are
// already in memory (they resolve before the event loop's next turn) join it, up to `max`.
// A slow source gives batches of one (no added latency); a fast one gives big batches, so a
// consumer that writes each batch in one database transaction keeps up with it.

const NOT_READY = Symbol("not ready");

export async function* batches<T>(source: AsyncIterable<T>, max: number): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const first = await next;
      if (first.done) return;
      const batch = [first.value];
      next = iterator.next();
      while (batch.length < max) {
        const ready = await Promise.race([next, new Promise<typeof NOT_READY>((resolve) => setImmediate(() => resolve(NOT_READY)))]);
        if (ready === NOT_READY) break;
        if (ready.done) {
          yield batch;
          return;
        }
        batch.push(ready.value);
        next = iterator.next();
      }
      yield batch;
    }
  } finally {
    // A consumer that stops early closes the source (e.g. the HTTP/2 stream behind it).
    await iterator.return?.();
  }
}
