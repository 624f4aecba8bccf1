// Every command the daemon is running (exec and background), so that shutdown can stop
// them all: SIGTERM to each process group, SIGKILL to those still there after the grace.
import { SupervisorError } from "./errors.ts";

export interface StoppableRun {
  signal(signal: NodeJS.Signals): boolean;
  readonly done: Promise<unknown>;
}

export class RunRegistry {
  private readonly runs = new Set<StoppableRun>();
  private stopping = false;

  /** Refuses new work once shutdown began (503 SHUTTING_DOWN). */
  assertAccepting(): void {
    if (this.stopping) throw new SupervisorError("SHUTTING_DOWN", "The supervisor is shutting down.");
  }

  add(run: StoppableRun): void {
    this.runs.add(run);
    void run.done.finally(() => this.runs.delete(run));
  }

  get size(): number {
    return this.runs.size;
  }

  /** SIGTERM to every run, SIGKILL after `graceMs`; resolves when all are done (or, for
   * one that even SIGKILL cannot end, such as a process of another uid, after a second grace). */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.runs].map(async (run) => {
        run.signal("SIGTERM");
        if ((await within(run.done, graceMs)) === "late") run.signal("SIGKILL");
        await within(run.done, graceMs);
      }),
    );
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<"done" | "late"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    return await Promise.race([promise.then(() => "done" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
