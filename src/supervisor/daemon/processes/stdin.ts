// The open stdin of a background process started with `stdin: "pipe"` (an agent CLI that
// reads its user messages and approval answers there). Writes are queued so input from
// concurrent requests is never interleaved, and each one settles only once its bytes are
// in the pipe: a child that reads slowly slows its writers instead of the daemon buffering
// their input. Once closed (eof asked for, the child closed its end, or the run finished)
// every further write is STDIN_CLOSED.
import type { Writable } from "node:stream";
import { SupervisorError } from "../errors.ts";

export class ProcessStdin {
  private closed = false;
  /** False from the moment eof is asked for: writes queued after it would come too late. */
  private accepting = true;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly stream: Writable,
    /** Called once, when stdin closes for any reason. */
    private readonly onClosed: () => void,
  ) {
    // EPIPE (the child closed its end) arrives here as well as in the write's callback.
    stream.on("error", () => this.markClosed());
    stream.once("close", () => this.markClosed());
  }

  get isOpen(): boolean {
    return this.accepting && !this.closed;
  }

  /**
   * Writes `data`, then closes stdin when `eof`; resolves with the bytes written. Waits
   * until the pipe took all of it; `signal` (the request going away) only stops the wait,
   * the bytes already handed over still reach the child.
   */
  write(data: Buffer, eof: boolean, signal: AbortSignal): Promise<number> {
    if (!this.isOpen) return Promise.reject(stdinClosed());
    if (eof) this.accepting = false;
    const result = this.queue.then(() => this.writeNow(data, eof, signal));
    // The next write waits for this one, whatever its outcome.
    this.queue = result.catch(() => {});
    return result;
  }

  /** Closes stdin (the run ended, or the process was adopted without its pipes). */
  close(): void {
    this.accepting = false;
    this.stream.destroy();
    this.markClosed();
  }

  private async writeNow(data: Buffer, eof: boolean, signal: AbortSignal): Promise<number> {
    if (this.closed) throw stdinClosed();
    if (data.length > 0) {
      const flushed = new Promise<Error | null | undefined>((resolve) => this.stream.write(data, resolve));
      const failure = await untilAborted(flushed, signal);
      if (failure) {
        this.markClosed();
        throw stdinClosed();
      }
    }
    if (eof) {
      // The pipe closes once everything before it is flushed: the child reads all, then EOF.
      this.stream.end();
      this.markClosed();
    }
    return data.length;
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.accepting = false;
    this.onClosed();
  }
}

function stdinClosed(): SupervisorError {
  return new SupervisorError("STDIN_CLOSED", 'The process\'s stdin is closed: it was not started with stdin "pipe", or its input ended.');
}

/** `promise`, or undefined as soon as `signal` aborts (the work itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => {
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    });
  });
}
