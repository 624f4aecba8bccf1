import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureOptions, FAKE_SUPERVISOR, shIn, specFor, testBed } from "./helpers.ts";

const CHILD = fileURLToPath(new URL("./fixtures/ensure-in-child.ts", import.meta.url));

test("killing the control plane process that started a sandbox (kill -9) leaves the sandbox running", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("survivor");
  const controlPlane = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ root, supervisorBundle: FAKE_SUPERVISOR, spec })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => controlPlane.kill("SIGKILL"));
  let output = "";
  controlPlane.stdout.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    controlPlane.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("\n")) resolve();
    });
    controlPlane.once("exit", (code) => reject(new Error(`the child control plane exited (${code}) before the sandbox was ready`)));
  });
  const pid = Number(/^ready (\d+)/.exec(output)?.[1]);
  assert.ok(pid > 0, output);

  const exited = once(controlPlane, "exit");
  controlPlane.kill("SIGKILL");
  const [, signal] = await exited;
  assert.equal(signal, "SIGKILL");

  const inspection = await driver.inspect(spec.sandboxId);
  assert.equal(inspection.state, "running");
  assert.equal(inspection.pid, pid);
  const alive = await shIn(driver.supervisorSocket(spec.sandboxId), "echo still here");
  assert.equal(alive.stdout, "still here\n");
  // This process, a new control plane, adopts it.
  const adopted = await driver.ensure(spec, ensureOptions());
  assert.equal(adopted.outcome, "adopted");
  assert.equal(adopted.pid, pid);
});
