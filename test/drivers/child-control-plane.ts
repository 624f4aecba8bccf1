// Runs ensure in a child process (fixtures/ensure-in-child.ts), so a test can kill -9 the
// "control plane" that started a sandbox and check what a fresh driver makes of it.
import { type ChildProcess, spawn } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { SandboxSpec } from "../../src/drivers/driver.ts";
import type { LocalDriverOptions } from "../../src/drivers/local/local-driver.ts";

const CHILD = fileURLToPath(new URL("./fixtures/ensure-in-child.ts", import.meta.url));

export interface ChildControlPlane {
  process: ChildProcess;
  /** Resolves with the first line of output starting with `prefix`; rejects if the
   *  child exits first (its output so far in the message). */
  line(prefix: string): Promise<string>;
  /** Resolves with the signal the child ended with (null after a normal exit). */
  exited: Promise<NodeJS.Signals | null>;
}

export function childControlPlane(t: TestContext, options: LocalDriverOptions, spec: SandboxSpec, dieAt?: string): ChildControlPlane {
  // The options cross a process boundary as JSON: no functions.
  if (typeof options.outpostDir !== "string") throw new Error("childControlPlane needs outpostDir as a path");
  const { log: _log, ...serializable } = options;
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ options: serializable, spec, dieAt })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  let output = "";
  const waiting = new Set<() => void>();
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    output += chunk;
    for (const check of waiting) check();
  });
  // "close", not "exit": by then every byte of its output has been read.
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("close", (_code, signal) => resolve(signal)));
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = output.split("\n").find((l, i, all) => i < all.length - 1 && l.startsWith(prefix));
        if (found === undefined) return;
        waiting.delete(check);
        resolve(found);
      };
      waiting.add(check);
      check();
      void exited.then(() => {
        check();
        if (waiting.delete(check)) reject(new Error(`the child control plane exited before printing '${prefix}'; it printed:\n${output}`));
      });
    });
  return { process: child, line, exited };
}
