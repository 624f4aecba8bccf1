// What a sandbox can see of the host, through the API with the real bubblewrap: nothing of
// /root, the data dir, the database socket or another sandbox; no network at all; not root.
import assert from "node:assert/strict";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exec, hostPidsOfUid, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("sandbox isolation", () => {
  let s: TestServer;
  let a: any;
  let b: any;
  before(async () => {
    s = await startTestServer("embedded", { sandboxMemoryMb: 128, sandboxPids: 64 });
    await api(s, "POST", "/api/v1/projects", { body: { name: "iso" } });
    a = await runningSandbox(s, "iso");
    b = await runningSandbox(s, "iso");
    await exec(s, b.id, "echo b-secret > /workspace/secret.txt");
  });
  after(async () => s?.close());

  const probe = async (script: string) => exec(s, a.id, ["sh", "-c", script]);

  test("the host's /root, the data dir and the database socket are not visible", async () => {
    writeFileSync("/tmp/outpost-host-marker", "host");
    const paths = ["/root", s.dataDir, join(s.dataDir, "postgres", "run"), join(s.dataDir, "admin-token"), "/tmp/outpost-host-marker", "/var/run/postgresql"];
    for (const path of paths) {
      const res = await probe(`ls -d '${path}' 2>/dev/null || echo absent`);
      assert.match(res.stdout, /absent/, `${path} is visible: ${res.stdout}`);
    }
  });

  test("another sandbox's workspace cannot be read", async () => {
    const read = await probe("cat /workspace/secret.txt 2>/dev/null; echo done");
    assert.equal(read.stdout, "done\n");
    const found = await probe("find / -name secret.txt 2>/dev/null; true");
    assert.equal(found.stdout, "", "no path to b's file exists inside a");
  });

  test("another sandbox's processes can be neither seen nor signalled", async () => {
    const started = await api(s, "POST", `/api/v1/sandboxes/${b.id}/processes`, { body: { command: ["sleep", "600"], name: "victim" } });
    assert.equal(started.status, 201);
    const seen = await probe(`for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done | grep -c 'sleep 60[0]' || true`);
    assert.equal(seen.stdout.trim(), "0", "sleep 600 of sandbox b is not visible");
    // Signal b's process by its host pid (the only pid that could name it from outside).
    const bUid = statSync(join(s.dataDir, "sandboxes", b.id, "workspace")).uid;
    const hostPids = process.getuid?.() === 0 ? hostPidsOfUid(bUid) : [];
    for (const pid of hostPids) {
      const res = await probe(`kill -9 ${pid} 2>&1 || echo refused`);
      assert.match(res.stdout, /refused|No such process/, `pid ${pid}`);
    }
    const victim = await api(s, "GET", `/api/v1/sandboxes/${b.id}/processes/${started.body.id}`);
    assert.equal(victim.body.status, "running", "kill -9 -1 in sandbox a did not reach sandbox b");
  });

  test("there is no network: no interface but lo, and not even the host's 127.0.0.1 answers", async () => {
    // This control plane listens on the host's 127.0.0.1 (5432 inside is the project database's bridge).
    const hostPort = new URL(s.url).port;
    const res = await probe(
      `awk -F: 'NR>2 {gsub(/ /, "", $1); print $1}' /proc/net/dev; node -e "const s=require('net').connect(${hostPort},'127.0.0.1');s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log('ERR',e.code);process.exit(0)})"; getent hosts example.com || echo no-dns`,
    );
    assert.equal(res.stdout.split("\n")[0], "lo");
    assert.match(res.stdout, /ERR ECONNREFUSED/);
    assert.doesNotMatch(res.stdout, /CONNECTED/);
    assert.match(res.stdout, /no-dns/);
  });

  test("processes run as an unprivileged user inside and never as host root outside", async () => {
    const res = await probe("id -u; id -un; cat /proc/self/status | grep ^CapEff");
    const [uid, name, caps] = res.stdout.trim().split("\n");
    assert.equal(uid, "1000");
    assert.equal(name, "outpost");
    assert.match(caps ?? "", /CapEff:\s+0+$/);
    const hostUid = statSync(join(s.dataDir, "sandboxes", a.id, "workspace")).uid;
    assert.notEqual(hostUid, 0, "the workspace is not owned by host root");
    if (process.getuid?.() === 0) {
      await exec(s, a.id, "touch /workspace/made-inside");
      assert.equal(
        statSync(join(s.dataDir, "sandboxes", a.id, "workspace", "made-inside")).uid,
        hostUid,
        "files land on the host owned by the sandbox's own uid",
      );
      assert.notEqual(statSync(join(s.dataDir, "sandboxes", b.id, "workspace")).uid, hostUid, "each sandbox has its own host uid");
    }
  });

  test(
    "the configured memory and pids limits hold inside the sandbox (where cgroups allow)",
    { skip: process.getuid?.() !== 0 && "cgroups need root" },
    async () => {
      const hog = await probe(`node -e "const a=[];for(let i=0;i<40;i++)a.push(Buffer.alloc(10*1024*1024,1));console.log('allocated')"; echo "exit $?"`);
      assert.doesNotMatch(hog.stdout, /allocated/, "400 MiB under a 128 MiB limit");
      assert.match(hog.stdout, /exit 137/);
      // dash exits on a failed fork, so count spawns from node, which reports them as errors.
      const forks = await probe(
        `node -e "const {spawn}=require('child_process');const kids=[];for(let i=0;i<100;i++){const c=spawn('sleep',['5']);c.on('error',()=>{});kids.push(c)}setImmediate(()=>{console.log('started',kids.filter(k=>k.pid).length);for(const k of kids)if(k.pid)k.kill()})"`,
      );
      const started = Number(/started (\d+)/.exec(forks.stdout)?.[1]);
      assert.ok(started >= 1 && started < 64, `${started} of 100 processes started under pids.max=64: ${JSON.stringify(forks)}`);
      const ready = (await api(s, "GET", `/api/v1/sandboxes/${a.id}`)).body.stages.find((st: any) => st.name === "ready");
      assert.equal(ready.message, undefined, "every limit was enforced");
    },
  );

  test("the host filesystem is read-only where it is shared", async () => {
    const res = await probe("touch /usr/outpost-test 2>&1 || echo refused; touch /etc/passwd 2>&1 || echo refused");
    assert.equal(res.stdout.match(/refused/g)?.length, 2);
  });
});
