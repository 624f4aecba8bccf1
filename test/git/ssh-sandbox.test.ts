// Git over SSH from a real sandbox, end to end: a project whose repository is on a real
// sshd (Debian's OpenSSH on 127.0.0.1, reached as host.outpost.internal through the egress
// proxy, no allow rule needed for it), a deploy key made through the API and authorised
// there, its host key pinned by the control plane. Inside the sandbox git clones, commits
// and pushes through the host-side ssh-agent; no private key material is anywhere in the
// sandbox; SSH to another host is closed by the proxy; and another project's sandbox
// neither sees nor can use the key.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadSecretKey } from "../../src/config/data-dir.ts";
import { SecretBox } from "../../src/crypto/secrets.ts";
import { gitSandboxEnv } from "../../src/domain/git/sandbox-env.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { hostGit, type Sshd, startSshd } from "../helpers/sshd.ts";

const HOST = "host.outpost.internal";

/** Polls the egress record until `match` holds (decisions are written in batches). */
async function waitForRecords(s: TestServer, project: string, match: (items: any[]) => boolean): Promise<any[]> {
  for (;;) {
    const res = await api(s, "GET", `/api/v1/projects/${project}/egress?limit=1000`);
    assert.equal(res.status, 200);
    if (match(res.body.items)) return res.body.items;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every file under `dir` (symlinks not followed). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const reEscape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("git over SSH in a sandbox, with a deploy key the sandbox never holds", () => {
  let s: TestServer;
  let sshd: Sshd;
  let other: Sshd;
  let web: Server;
  let webPort: number;
  let box: any;
  let otherBox: any;
  let key: { publicKey: string; fingerprint: string; knownHosts: string };
  let otherKey: { publicKey: string };
  let env: Record<string, string>;

  before(async () => {
    [sshd, other] = await Promise.all([startSshd(), startSshd()]);
    sshd.createRepo("repo", { "README.md": "hello over ssh\n" });
    other.createRepo("elsewhere", { "README.md": "not for this project\n" });
    web = createServer((req, res) => res.end(`plain answer to ${req.url}\n`));
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    webPort = (web.address() as AddressInfo).port;
    s = await startTestServer("embedded");

    // The repository's port needs no rule; the other sshd and the web server get one each,
    // so what stops SSH to the other sshd is the proxy's SSH gate, not the policy.
    const allow = [`${HOST}:${other.port}`, `${HOST}:${webPort}`];
    const created = await api(s, "POST", "/api/v1/projects", { body: { name: "sshp", repoUrl: sshd.url("repo"), egress: { level: "custom", allow } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const missing = await api(s, "GET", "/api/v1/projects/sshp/git/deploy-key");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "DEPLOY_KEY_NOT_FOUND");
    const made = await api(s, "POST", "/api/v1/projects/sshp/git/deploy-key");
    assert.equal(made.status, 201, JSON.stringify(made.body));
    key = made.body;
    assert.match(key.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+ outpost-sshp$/);
    assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(key.knownHosts, new RegExp(`^\\[${reEscape(HOST)}\\]:${sshd.port} ssh-ed25519 AAAA`));
    assert.deepEqual((await api(s, "GET", "/api/v1/projects/sshp/git/deploy-key")).body, key);
    sshd.authorize(key.publicKey);
    other.authorize(key.publicKey);

    // Another project with a key of its own, authorised nowhere. It gets the same repository
    // once its sandbox runs (a start would fail at cloning it, as it should).
    const second = await api(s, "POST", "/api/v1/projects", { body: { name: "intruder", egress: { level: "custom", allow: [] } } });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    otherKey = (await api(s, "POST", "/api/v1/projects/intruder/git/deploy-key")).body;

    [box, otherBox] = await Promise.all([runningSandbox(s, "sshp"), runningSandbox(s, "intruder")]);
    const moved = await api(s, "PATCH", "/api/v1/projects/intruder", { body: { repoUrl: sshd.url("repo") } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    env = gitSandboxEnv({ knownHosts: key.knownHosts });
  });
  after(async () => {
    await s?.close();
    await Promise.all([sshd?.stop(), other?.stop()]);
    web?.close();
  });

  test("git clones, commits and pushes over SSH; the remote has the commit", async () => {
    // The sandbox started with the repository cloned over SSH by its `repository` stage, with
    // the environment every command gets (no env passed here).
    const stage = (await api(s, "GET", `/api/v1/sandboxes/${box.id}`)).body.stages.find((st: { name: string }) => st.name === "repository");
    assert.match(stage?.message ?? "", /^cloned main/, JSON.stringify(stage));
    const cloned = await exec(s, box.id, [
      "sh",
      "-c",
      "cat /workspace/README.md && git -C /workspace remote get-url origin && git -C /workspace ls-remote origin HEAD",
    ]);
    assert.equal(cloned.exitCode, 0, cloned.stderr);
    assert.match(cloned.stdout, new RegExp(`^hello over ssh\n${reEscape(sshd.url("repo"))}\n[0-9a-f]{40}\tHEAD\n$`));
    const script = [
      "set -e",
      `git clone -q ${sshd.url("repo")} /workspace/ssh-clone`,
      "cd /workspace/ssh-clone",
      "cat README.md",
      "echo 'made in the sandbox' > change.txt",
      "git add change.txt",
      "git commit -q -m 'A change from the sandbox'",
      "git push -q origin main",
    ].join("\n");
    const result = await exec(s, box.id, ["sh", "-c", script], { env });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, "hello over ssh\n");
    const log = hostGit(["--git-dir", join(sshd.root, "repo.git"), "log", "-1", "--format=%s|%an <%ae>", "main"]);
    assert.equal(log.trim(), "A change from the sandbox|Outpost Agent <agent@outpost.local>");
    await sshd.waitForLog(new RegExp(`Accepted publickey for ${sshd.user} .* ED25519 ${reEscape(key.fingerprint)}`));
  });

  test("the sandbox's agent lists the project's key alone, and signs nothing but SSH logins", async () => {
    const listed = await exec(s, box.id, "ssh-add -L", { env });
    assert.equal(listed.exitCode, 0, listed.stderr);
    assert.equal(listed.stdout, `${key.publicKey}\n`);
    const signing = await exec(s, box.id, ["sh", "-c", "ssh-add -L > /tmp/k.pub && echo data > /tmp/m && ssh-keygen -Y sign -n git -f /tmp/k.pub /tmp/m"], {
      env,
    });
    assert.notEqual(signing.exitCode, 0, "a commit signature with the deploy key must be refused");
  });

  test("no private key material anywhere in the sandbox: files, process environments and arguments, git config", async () => {
    const row = await s.server.pool.query(
      "select project_id, private_key_enc from project_deploy_keys where project_id = (select id from projects where name = 'sshp')",
    );
    const box_ = new SecretBox(loadSecretKey(s.dataDir, undefined));
    const pem = box_.open(row.rows[0].private_key_enc, `deploy_key:${row.rows[0].project_id}`);
    const seed = Buffer.from(createPrivateKey(pem).export({ format: "jwk" }).d as string, "base64url");
    const pemBody = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const needles = [
      Buffer.from("PRIVATE KEY"),
      Buffer.from(pemBody),
      seed,
      Buffer.from(seed.toString("hex")),
      Buffer.from(seed.toString("base64").replace(/=+$/, "")),
    ];

    // A long-running command holds the same environment every command gets, while the
    // sandbox's processes are written out from inside (its own /proc) for the host to read.
    await exec(s, box.id, "sleep 60 > /dev/null 2>&1 &", { env });
    const dump = [
      "cd /workspace/ssh-clone",
      "git config --list --show-origin > /workspace/.git-config-list",
      "for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>/dev/null; done > /workspace/.processes",
      "grep -c . /workspace/.processes",
    ].join(" && ");
    const dumped = await exec(s, box.id, ["sh", "-c", dump], { env });
    assert.equal(dumped.exitCode, 0, dumped.stderr);
    const processes = readFileSync(join(s.dataDir, "sandboxes", box.id, "workspace", ".processes"));
    assert.ok(processes.includes("SSH_AUTH_SOCK=/run/outpost/ssh-agent.sock"), "the dump holds the commands' environments");

    const files = filesUnder(join(s.dataDir, "sandboxes", box.id));
    assert.ok(
      files.some((f) => f.endsWith(join("ssh-clone", "change.txt"))),
      "the clone is among the files searched",
    );
    for (const file of files) {
      if (statSync(file).size > 64 * 1024 * 1024) continue;
      const content = readFileSync(file);
      for (const needle of needles) assert.ok(!content.includes(needle), `${file} holds private key material`);
    }
  });

  test("SSH to a host other than the repository is closed by the proxy; other traffic on the same rule passes", async () => {
    const otherHostKeys = execFileSync("ssh-keyscan", ["-T", "10", "-p", String(other.port), "127.0.0.1"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).replaceAll("[127.0.0.1]", `[${HOST}]`);
    const withBoth = { ...env, OUTPOST_GIT_KNOWN_HOSTS: `${key.knownHosts}${otherHostKeys}` };
    const refused = await exec(s, box.id, ["git", "ls-remote", other.url("elsewhere")], { env: withBoth });
    assert.notEqual(refused.exitCode, 0);
    const records = await waitForRecords(s, "sshp", (items) => items.some((r) => r.rule === "ssh gate"));
    const gate = records.find((r) => r.rule === "ssh gate");
    assert.equal(gate.port, other.port);
    assert.equal(gate.allowed, false);
    assert.match(gate.reason, /SSH may go only to its repository/);
    assert.doesNotMatch(other.log(), /Accepted publickey/, "the other sshd saw no login");
    // The same kind of tunnel carrying HTTP is let through.
    const piped = await exec(s, box.id, `printf 'GET /through-the-gate HTTP/1.0\\r\\n\\r\\n' | /opt/outpost/bin/outpost-ssh-proxy ${HOST} ${webPort}`);
    assert.match(piped.stdout, /plain answer to \/through-the-gate/, piped.stderr);
    // The repository itself needed no rule.
    assert.ok(records.some((r) => r.allowed && r.port === sshd.port && r.rule === "repository"));
  });

  test("another project's sandbox sees only its own key, and cannot log in or sign with the first project's", async () => {
    const otherEnv = gitSandboxEnv({ knownHosts: key.knownHosts });
    const listed = await exec(s, otherBox.id, "ssh-add -L", { env: otherEnv });
    assert.equal(listed.stdout, `${otherKey.publicKey}\n`);
    const cloned = await exec(s, otherBox.id, ["git", "ls-remote", sshd.url("repo")], { env: otherEnv });
    assert.notEqual(cloned.exitCode, 0);
    assert.match(cloned.stderr, /Permission denied \(publickey\)/);
    // Asked directly for a login signature with the first project's key: refused (5).
    const blob = Buffer.from(key.publicKey.split(" ")[1] as string, "base64").toString("hex");
    const script = `
      const net = require("node:net");
      const str = (b) => { const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
      const blob = Buffer.from("${blob}", "hex");
      const data = Buffer.concat([str(Buffer.alloc(32, 1)), Buffer.from([50]), str(Buffer.from("root")), str(Buffer.from("ssh-connection")),
        str(Buffer.from("publickey")), Buffer.from([1]), str(Buffer.from("ssh-ed25519")), str(blob)]);
      const body = Buffer.concat([Buffer.from([13]), str(blob), str(data), Buffer.alloc(4)]);
      const socket = net.connect(process.env.SSH_AUTH_SOCK, () => socket.write(str(body)));
      socket.once("data", (answer) => { process.stdout.write(String(answer[4])); socket.destroy(); });`;
    const asked = await exec(s, otherBox.id, ["node", "-e", script], { env: otherEnv });
    assert.equal(asked.stdout, "5", asked.stderr);
  });
});
