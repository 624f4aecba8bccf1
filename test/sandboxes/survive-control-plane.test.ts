// Sandboxes outlive the control plane: after kill -9 and a restart, files and a running
// background process are still there and the reconciler adopts the sandbox; a sandbox whose
// compute died while the control plane was down is started again with its files.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { adminToken, postmasterPid, type ServeProcess, spawnServe, waitForExit } from "../helpers/process.ts";
import { exec, hostPidsOfUid, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, tempDir } from "../helpers/server.ts";

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

describe("sandboxes survive the control plane", () => {
  const dataDir = tempDir();
  let serve: ServeProcess | undefined;
  after(async () => {
    if (serve) {
      const s = { url: serve.url, token: adminToken(dataDir) };
      const list = await api(s, "GET", "/api/v1/sandboxes").catch(() => null);
      for (const box of list?.body?.items ?? []) await api(s, "DELETE", `/api/v1/sandboxes/${box.id}`);
      for (const box of list?.body?.items ?? []) await waitForPhase(s, box.id, ["deleted"]).catch(() => {});
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    const pid = postmasterPid(dataDir);
    if (pid) process.kill(pid, "SIGINT");
  });

  let box: any;
  let processId: string;

  test("kill -9 of the control plane leaves the sandbox, its files and its processes running", async () => {
    serve = await spawnServe(dataDir);
    const s = { url: serve.url, token: adminToken(dataDir) };
    // A host server the sandbox may reach through the egress proxy, before and after.
    const host = createServer((_req, res) => res.end("through the proxy\n"));
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    after(() => host.close());
    const port = (host.address() as AddressInfo).port;
    await api(s, "POST", "/api/v1/projects", { body: { name: "durable", egress: { allow: [`host.outpost.internal:${port}`] } } });
    const curl = `curl -sS -m 20 http://host.outpost.internal:${port}/`;
    box = await runningSandbox(s, "durable");
    await exec(s, box.id, "echo kept > /workspace/file.txt");
    assert.equal((await exec(s, box.id, curl)).stdout, "through the proxy\n");
    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, {
      body: { command: "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done", name: "ticker" },
    });
    processId = started.body.id;
    const uid = statSync(join(dataDir, "sandboxes", box.id, "workspace")).uid;
    // The ticker's `sleep 0.2` children come and go by themselves: only long-lived processes count.
    const longLived = () => hostPidsOfUid(uid).filter((pid) => commOf(pid) !== "sleep");
    const pidsBefore = longLived();

    serve.child.kill("SIGKILL");
    await serve.exited;
    if (process.getuid?.() === 0) {
      const survivors = longLived();
      assert.ok(survivors.length > 0 && pidsBefore.every((pid) => survivors.includes(pid)), `every sandbox process survived: ${pidsBefore} → ${survivors}`);
    }

    serve = await spawnServe(dataDir);
    const s2 = { url: serve.url, token: adminToken(dataDir) };
    const again = await waitForPhase(s2, box.id, ["running"]);
    assert.equal(again.phase, "running");
    assert.equal((await exec(s2, box.id, "cat /workspace/file.txt")).stdout, "kept\n");
    // The adopted sandbox's way out works again: the new control plane listens on its sockets.
    assert.equal((await exec(s2, box.id, curl)).stdout, "through the proxy\n");
    const proc = await api(s2, "GET", `/api/v1/sandboxes/${box.id}/processes/${processId}`);
    assert.equal(proc.body.status, "running", "the background process kept running");
    const logs = await api(s2, "GET", `/api/v1/sandboxes/${box.id}/processes/${processId}/logs?follow=false`);
    assert.match(String(logs.body), /event: log/);
  });

  test("a sandbox whose compute died while the control plane was down is started again with its files", async () => {
    assert.ok(serve);
    serve.child.kill("SIGKILL");
    await serve.exited;
    // Kill the sandbox's whole process tree behind the control plane's back.
    const runtime = JSON.parse(readFileSync(join(dataDir, "sandboxes", box.id, "runtime.json"), "utf8"));
    const init: number = runtime.init?.pid;
    assert.ok(init, `runtime.json names the sandbox's init: ${JSON.stringify(runtime)}`);
    process.kill(init, "SIGKILL");
    await waitForExit(init);

    serve = await spawnServe(dataDir);
    const s = { url: serve.url, token: adminToken(dataDir) };
    // The reconciler notices at start (adoption pass) and provisions it again.
    const deadline = Date.now() + 60_000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const res = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "cat /workspace/file.txt" } });
      ok = res.status === 200 && res.body.stdout === "kept\n";
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(ok, "the sandbox answers again with its file");
  });

  test("kill -9 in the middle of provisioning: the next start adopts or finishes it, one copy only", async () => {
    assert.ok(serve);
    const s = { url: serve.url, token: adminToken(dataDir) };
    const created = await api(s, "POST", "/api/v1/projects/durable/sandboxes");
    assert.equal(created.status, 201);
    serve.child.kill("SIGKILL");
    await serve.exited;
    serve = await spawnServe(dataDir);
    const s2 = { url: serve.url, token: adminToken(dataDir) };
    const ready = await waitForPhase(s2, created.body.id, ["running", "failed"]);
    assert.equal(ready.phase, "running", JSON.stringify(ready.error));
    assert.equal((await exec(s2, created.body.id, "echo alive")).stdout, "alive\n");
    if (process.getuid?.() === 0) {
      const uid = statSync(join(dataDir, "sandboxes", created.body.id, "workspace")).uid;
      // bwrap's own two processes show the inner command too; the supervisor is the node one.
      const supervisors = hostPidsOfUid(uid).filter((pid) => {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv[0]?.endsWith("node") && argv[1]?.endsWith("supervisor.js");
      });
      assert.equal(supervisors.length, 1, "exactly one supervisor runs for the sandbox");
    }
  });
});
