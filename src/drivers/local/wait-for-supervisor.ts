// The supervisor stage: wait until the sandbox's supervisor has dialled in and answers,
// and fail early when the sandbox exits first. The exit is an event while the control
// plane is bwrap's parent; for an adopted sandbox the recorded pid-1 is checked on a slow
// timer.
import { SupervisorClient } from "../../supervisor/client.ts";
import type { LinkRegistry } from "../../supervisor/link/registry.ts";
import type { SupervisorLink } from "../driver.ts";
import { DriverError, isDriverError } from "../errors.ts";
import { type Launched, logTail, startFailed } from "./launcher.ts";
import { isRunning } from "./processes.ts";
import type { RuntimeInfo } from "./runtime.ts";

export interface WaitOptions {
  sandboxId: string;
  links: LinkRegistry;
  runtime: RuntimeInfo;
  /** Only when this control plane launched it. */
  launched?: Launched;
  logPath: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export async function waitForSupervisor({ sandboxId, links, runtime, launched, logPath, timeoutMs, signal }: WaitOptions): Promise<SupervisorLink> {
  const giveUp = new AbortController();
  const both = AbortSignal.any([signal, giveUp.signal]);
  // Cleared in `finally`, not on `both`'s abort event: a signal that was already aborted
  // (the caller gave up in onStage) never fires it, and the timer would poll forever.
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<never>((_resolve, reject) => {
    const fail = (how: string, exitCode?: number | null) =>
      reject(startFailed(`the sandbox exited before its supervisor connected (${how})`, logPath, { exitCode }));
    launched?.exited.then((exit) => fail(exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`, exit.code));
    timer = setInterval(() => {
      if (!isRunning(runtime.init)) fail("unknown status");
    }, 250);
  });
  exited.catch(() => {});
  try {
    const session = await Promise.race([links.wait(sandboxId, { signal: both, timeoutMs }), exited]);
    const link = { client: new SupervisorClient({ transport: session }), info: session.info };
    await Promise.race([link.client.assertCompatible(both), exited]);
    return link;
  } catch (error) {
    if (signal.aborted || isDriverError(error)) throw error;
    const tail = logTail(logPath);
    throw new DriverError(
      "SUPERVISOR_NOT_READY",
      `the supervisor did not connect and answer within ${timeoutMs} ms (${(error as Error).message})${tail ? `; log tail:\n${tail}` : ""}`,
      { details: { logTail: tail, log: logPath } },
    );
  } finally {
    clearInterval(timer);
    giveUp.abort();
  }
}
