// The host-side ssh-agent with the real OpenSSH tools, no sandbox: the agent served on a
// unix socket the way the local driver hands connections in (the socket says which
// sandbox), real ssh-add and ssh talking to it, a real sshd to log in to. It offers and
// signs with the connecting sandbox's project key only, logs in, refuses to sign anything
// that is not an SSH login (a commit signature), and closes connections that break the
// protocol's bounds.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { AGENT_MESSAGE, type AgentIdentity, agentMessage } from "../../src/domain/git/ssh-agent-protocol.ts";
import { ed25519KeyBlob, ed25519SignatureBlob, keyFingerprint, openSshPublicKey } from "../../src/domain/git/ssh-keys.ts";
import { SshAgentServer } from "../../src/egress/ssh-agent.ts";
import type { SandboxEgress } from "../../src/services/egress.ts";
import { type Sshd, startSshd } from "../helpers/sshd.ts";

const run = promisify(execFile);

function projectKey(name: string) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const identity: AgentIdentity = {
    keyBlob: ed25519KeyBlob(raw),
    comment: `outpost-${name}`,
    sign: (data) => ed25519SignatureBlob(sign(null, data, privateKey)),
  };
  return { identity, line: openSshPublicKey(raw, `outpost-${name}`), fingerprint: keyFingerprint(identity.keyBlob) };
}

describe("host-side ssh-agent with OpenSSH's tools", () => {
  const dir = mkdtempSync(join(tmpdir(), "outpost-agent-"));
  const keys = { one: projectKey("one"), two: projectKey("two") };
  const projectOf: Record<string, keyof typeof keys | null> = { "sbx-one": "one", "sbx-two": "two", "sbx-nokey": null };
  const logs: string[] = [];
  const servers: Server[] = [];
  let agent: SshAgentServer;
  let sshd: Sshd;

  /** The agent socket of one sandbox: every connection on it is that sandbox's. */
  const socketOf = (sandboxId: string) => join(dir, `${sandboxId}.sock`);

  before(async () => {
    agent = new SshAgentServer({
      context: async (sandboxId) => (sandboxId in projectOf ? ({ projectId: `prj-${sandboxId}` } as SandboxEgress) : null),
      identity: async (projectId) => {
        const name = projectOf[projectId.replace(/^prj-/, "")];
        return name ? keys[name].identity : null;
      },
      log: (message) => logs.push(message),
      timeouts: { messageMs: 300 },
    });
    for (const sandboxId of Object.keys(projectOf)) {
      const server = createServer({ allowHalfOpen: true }, (socket) => agent.accept(sandboxId, socket));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(socketOf(sandboxId), resolve));
    }
    sshd = await startSshd();
    sshd.createRepo("repo", { "README.md": "hello\n" });
    sshd.authorize(keys.one.line);
  });
  after(async () => {
    agent?.close();
    for (const server of servers) server.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ssh-add lists the sandbox's project key alone, or none", async () => {
    const one = await run("ssh-add", ["-L"], { env: { SSH_AUTH_SOCK: socketOf("sbx-one") } });
    assert.equal(one.stdout, `${keys.one.line}\n`);
    const two = await run("ssh-add", ["-l", "-E", "sha256"], { env: { SSH_AUTH_SOCK: socketOf("sbx-two") } });
    assert.match(two.stdout, new RegExp(`^256 ${keys.two.fingerprint.replace(/[+/]/g, "\\$&")} outpost-two \\(ED25519\\)\n$`));
    const none = await run("ssh-add", ["-L"], { env: { SSH_AUTH_SOCK: socketOf("sbx-nokey") } }).catch((error) => error);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /no identities/);
  });

  test("git over ssh logs in with the project's key through the agent; another project's agent cannot", async () => {
    const url = sshd.url("repo").replace("host.outpost.internal", "127.0.0.1");
    const sshCommand = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=no -F /dev/null";
    const env = (sock: string) => ({ PATH: process.env.PATH, HOME: dir, SSH_AUTH_SOCK: sock, GIT_SSH_COMMAND: sshCommand });
    const listed = await run("git", ["ls-remote", url, "main"], { env: env(socketOf("sbx-one")) });
    assert.match(listed.stdout, /^[0-9a-f]{40}\trefs\/heads\/main\n$/);
    await sshd.waitForLog(new RegExp(`Accepted publickey for ${sshd.user} .* ED25519 ${keys.one.fingerprint.replace(/[+/]/g, "\\$&")}`));
    const refused = await run("git", ["ls-remote", url], { env: env(socketOf("sbx-two")) }).catch((error) => error);
    assert.notEqual(refused.code ?? 0, 0);
    assert.match(refused.stderr, /Permission denied \(publickey\)/);
  });

  test("a commit signature (not an SSH login) is refused, even with the right key", async () => {
    const pub = join(dir, "one.pub");
    writeFileSync(pub, `${keys.one.line}\n`);
    writeFileSync(join(dir, "message"), "tree 0000\n");
    const signed = await run("ssh-keygen", ["-Y", "sign", "-n", "git", "-f", pub, join(dir, "message")], {
      env: { SSH_AUTH_SOCK: socketOf("sbx-one"), PATH: process.env.PATH },
    }).catch((error) => error);
    assert.notEqual(signed.code ?? 0, 0, "ssh-keygen -Y sign must fail");
    assert.ok(logs.some((line) => /sbx-one: refused to sign/.test(line)));
  });

  test("an oversized message, or one that stalls half-sent, closes the connection", async () => {
    const path = socketOf("sbx-one");
    const oversized = connect(path);
    oversized.write(Buffer.from([0x00, 0x10, 0x00, 0x01, 11]));
    await once(oversized, "close");
    const stalled = connect(path);
    stalled.write(agentMessage(AGENT_MESSAGE.REQUEST_IDENTITIES).subarray(0, 3));
    await once(stalled, "close");
    assert.ok(logs.some((line) => /did not arrive whole in time/.test(line)));
    // The agent still serves the next connection.
    const ok = connect(path);
    ok.write(agentMessage(AGENT_MESSAGE.REQUEST_IDENTITIES));
    const [answer] = (await once(ok, "data")) as [Buffer];
    assert.equal(answer[4], AGENT_MESSAGE.IDENTITIES_ANSWER);
    ok.destroy();
  });
});
