// Secrets that never enter the sandbox, with real sandboxes (bwrap): a `credential` reaches
// a local HTTPS server (own CA) in the header its inject rule names, put there by the proxy
// after it terminated the sandbox's TLS with the installation CA, while nothing inside the
// sandbox (files, every process's environment and command line, exec output) holds the
// value; a `secret` printed by a command comes back redacted from exec (JSON, SSE) and
// process logs. Traffic goes to 127.0.0.1 only.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer, tempDir } from "../helpers/server.ts";
import { makeTestCa } from "../helpers/test-ca.ts";

const HOST = "host.outpost.internal";
const CREDENTIAL = "ghp_RealCredentialValue0123456789abcdef";
const SECRET = "s3cr3t-value-that-must-not-show";

/** Every file under `dir` (following no links), as paths. */
function filesUnder(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    try {
      const info = statSync(path, { throwIfNoEntry: false });
      if (!info) continue;
      if (info.isDirectory()) filesUnder(path, out);
      else if (info.isFile() && info.size < 64 * 1024 * 1024) out.push(path);
    } catch {}
  }
  return out;
}

/** Pids of the processes in the sandbox whose supervisor is `supervisorPid` (same pid namespace). */
function sandboxPids(supervisorPid: number): number[] {
  const namespace = readlinkSafe(`/proc/${supervisorPid}/ns/pid`);
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => readlinkSafe(`/proc/${pid}/ns/pid_for_children`) === namespace || readlinkSafe(`/proc/${pid}/ns/pid`) === namespace);
}

function readlinkSafe(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

describe("credentials and secrets (sandbox)", () => {
  let s: TestServer;
  let box: any;
  let port: number;
  const received: IncomingHttpHeaders[] = [];
  const ca = makeTestCa();
  let upstream: ReturnType<typeof createServer>;

  before(async () => {
    upstream = createServer(ca.issue([HOST, "127.0.0.1"]), (req, res) => {
      received.push(req.headers);
      res.end("accepted\n");
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    port = (upstream.address() as AddressInfo).port;
    const caFile = join(tempDir("outpost-upstream-ca-"), "ca.pem");
    writeFileSync(caFile, ca.caPem);
    s = await startTestServer("embedded", { egressUpstreamCaFile: caFile });
    await api(s, "POST", "/api/v1/projects", { body: { name: "cred", egress: { level: "custom", allow: [`${HOST}:${port}`] } } });
    const set = await api(s, "POST", "/api/v1/projects/cred/secrets", {
      body: { name: "GIT_TOKEN", value: CREDENTIAL, kind: "credential", inject: [{ host: HOST, header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.match(set.body.placeholder, /^ghp_outpost-placeholder-[0-9a-f]{32}$/);
    const secret = await api(s, "POST", "/api/v1/projects/cred/secrets", { body: { name: "DB_PASSWORD", value: SECRET, kind: "secret" } });
    assert.equal(secret.status, 200);
    box = await runningSandbox(s, "cred");
  });
  after(async () => {
    await s?.close();
    upstream?.close();
  });

  test("the credential reaches the credential host in its header, through intercepted TLS the sandbox trusts", async () => {
    const sent = await exec(s, box.id, `curl -sS -m 20 -H "Authorization: Bearer $GIT_TOKEN" https://${HOST}:${port}/api`);
    assert.equal(sent.stdout, "accepted\n", sent.stderr);
    assert.equal(received.at(-1)?.authorization, `Bearer ${CREDENTIAL}`);
    // A client that sends no header gets it put in.
    const bare = await exec(s, box.id, `curl -sS -m 20 https://${HOST}:${port}/bare`);
    assert.equal(bare.stdout, "accepted\n", bare.stderr);
    assert.equal(received.at(-1)?.authorization, `Bearer ${CREDENTIAL}`);
  });

  test("inside, the variable holds only the placeholder, and nothing in the sandbox holds the value", async () => {
    const shown = await exec(s, box.id, 'echo "$GIT_TOKEN"; env; cat /run/outpost/* 2>/dev/null; true');
    assert.ok(!shown.stdout.includes(CREDENTIAL), "exec output holds the credential");
    assert.match(shown.stdout, /^ghp_outpost-placeholder-/m);
    // A long-running process, so there is more than the supervisor to look at.
    await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: "sleep 300" } });

    const supervisorPid = Number(JSON.parse(readFileSync(join(s.dataDir, "sandboxes", box.id, "runtime.json"), "utf8")).init.pid);
    const pids = sandboxPids(supervisorPid);
    assert.ok(pids.length >= 2, `found the sandbox's processes (${pids.join(", ")})`);
    for (const pid of pids) {
      for (const file of ["environ", "cmdline"]) {
        const content = readFileSync(`/proc/${pid}/${file}`, "latin1");
        assert.ok(!content.includes(CREDENTIAL), `/proc/${pid}/${file} holds the credential`);
      }
    }
    // Every file the sandbox can see that is its own: its folders on the host, and its tmpfs
    // mounts through the supervisor's root.
    const roots = [
      join(s.dataDir, "sandboxes", box.id),
      ...["tmp", "dev/shm", "run/outpost", "workspace", "home", "var/lib/outpost"].map((p) => `/proc/${supervisorPid}/root/${p}`),
    ];
    let checked = 0;
    for (const root of roots) {
      for (const file of filesUnder(root)) {
        checked += 1;
        assert.ok(!readFileSync(file).includes(CREDENTIAL), `${file} holds the credential`);
      }
    }
    assert.ok(checked > 5, `looked at ${checked} files`);
  });

  test("a secret printed by a command comes back redacted in exec output and process logs", async () => {
    const json = await exec(s, box.id, 'echo "password is $DB_PASSWORD"; echo "$DB_PASSWORD" >&2');
    assert.equal(json.stdout, "password is [secret:DB_PASSWORD]\n");
    assert.equal(json.stderr, "[secret:DB_PASSWORD]\n");

    // Split across two writes: still caught.
    // (The pause makes two writes, so two output chunks.)
    const split = await exec(s, box.id, 'printf %s "$DB_PASSWORD" | cut -c1-6 | tr -d "\\n"; sleep 0.2; printf %s "$DB_PASSWORD" | cut -c7-');
    assert.equal(split.stdout, "[secret:DB_PASSWORD]\n");

    const started = await api(s, "POST", `/api/v1/sandboxes/${box.id}/processes`, { body: { command: 'echo "log: $DB_PASSWORD"' } });
    assert.equal(started.status, 201);
    const logs = await api(s, "GET", `/api/v1/sandboxes/${box.id}/processes/${started.body.id}/logs?follow=true`);
    const text = [...String(logs.body).matchAll(/^data: (.+)$/gm)]
      .map((m) => JSON.parse(m[1] ?? "null"))
      .filter((e) => typeof e?.data === "string" && e.stream)
      .map((e) => Buffer.from(e.data, "base64").toString("utf8"))
      .join("");
    assert.equal(text, "log: [secret:DB_PASSWORD]\n");
  });

  test("the API never returns a secret's or credential's value", async () => {
    const list = await api(s, "GET", "/api/v1/projects/cred/secrets");
    assert.equal(list.status, 200);
    const text = JSON.stringify(list.body);
    assert.ok(!text.includes(CREDENTIAL) && !text.includes(SECRET));
    assert.deepEqual(
      list.body.items.map((v: any) => [v.name, v.kind]),
      [
        ["DB_PASSWORD", "secret"],
        ["GIT_TOKEN", "credential"],
      ],
    );
    const revealed = await api(s, "GET", "/api/v1/projects/cred?reveal=true");
    assert.ok(!JSON.stringify(revealed.body).includes(CREDENTIAL) && !JSON.stringify(revealed.body).includes(SECRET));
  });
});
