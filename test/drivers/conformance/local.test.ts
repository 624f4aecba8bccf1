// The local driver against the conformance suite, with the real supervisor (dist/opt-outpost).
import { sandboxPaths } from "../../../src/drivers/local/layout.ts";
import { builtOutpostDir } from "../../../src/drivers/local/outpost-dir.ts";
import { PollTimeout, pollUntil } from "../../../src/drivers/local/poll.ts";
import { isRunning, signalPid } from "../../../src/drivers/local/processes.ts";
import { readRuntime } from "../../../src/drivers/local/runtime.ts";
import { testBed } from "../helpers.ts";
import { driverConformance } from "./driver-conformance.ts";

driverConformance("local", async (t) => {
  const { driver, root } = testBed(t, { outpostDir: builtOutpostDir() });
  return {
    driver,
    // SIGKILL of the sandbox's pid-1 takes the whole pid namespace with it.
    async crash(sandboxId) {
      const runtime = readRuntime(sandboxPaths(root, sandboxId).runtimeFile);
      if (!runtime) throw new Error(`${sandboxId} has no runtime.json`);
      signalPid(runtime.init.pid, "SIGKILL");
      await pollUntil(() => (isRunning(runtime.init) ? undefined : true), { signal: AbortSignal.timeout(10_000), timeoutMs: 10_000 }).catch((error) => {
        throw error instanceof PollTimeout ? new Error(`the sandbox's pid-1 ${runtime.init.pid} survived SIGKILL`) : error;
      });
    },
  };
});
