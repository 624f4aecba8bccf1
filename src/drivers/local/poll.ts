// Waiting for something outside our process (another process's exit, a socket starting to
// answer) that the kernel gives us no event for. Polls with an exponential backoff so a
// fast outcome is seen within milliseconds and a slow one costs few wake-ups; always
// bounded by a deadline and an AbortSignal. Never a fixed sleep.
import { setTimeout as delay } from "node:timers/promises";

export interface PollOptions {
  signal: AbortSignal;
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** First pause (ms), doubled after every miss up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class PollTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`still not there after ${timeoutMs} ms`);
    this.name = "PollTimeout";
  }
}

/** Calls `check` until it returns something other than undefined, and returns that.
 *  Throws PollTimeout at the deadline and the signal's reason on abort. */
export async function pollUntil<T>(check: () => T | undefined | Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let pause = options.minDelayMs ?? 10;
  const maxDelay = options.maxDelayMs ?? 250;
  for (;;) {
    options.signal.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw new PollTimeout(options.timeoutMs);
    // timers/promises rejects with its own AbortError; callers expect the signal's reason.
    await delay(Math.min(pause, left), undefined, { signal: options.signal }).catch((error) => {
      throw options.signal.aborted ? options.signal.reason : error;
    });
    pause = Math.min(pause * 2, maxDelay);
  }
}
