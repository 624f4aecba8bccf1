// The SSH agent protocol as the host-side agent speaks it, and the key and known_hosts
// helpers: framing across and within chunks, the size bound, malformed messages, what is
// signed (only SSH logins with the project's own key) and what is refused. Fingerprints
// and public key lines are checked against the real ssh-keygen.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  AGENT_MESSAGE,
  type AgentIdentity,
  AgentMessageReader,
  AgentProtocolError,
  agentMessage,
  answerAgentRequest,
  isUserAuthRequest,
  MAX_AGENT_MESSAGE_BYTES,
  parseAgentRequest,
} from "../../src/domain/git/ssh-agent-protocol.ts";
import {
  ed25519KeyBlob,
  ed25519SignatureBlob,
  keyFingerprint,
  knownHostsFromScan,
  knownHostsName,
  knownHostsProblem,
  openSshPublicKey,
  sshString,
} from "../../src/domain/git/ssh-keys.ts";

function newIdentity(comment = "outpost-test") {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const identity: AgentIdentity = { keyBlob: ed25519KeyBlob(raw), comment, sign: (data) => ed25519SignatureBlob(sign(null, data, privateKey)) };
  return { identity, raw, publicKey };
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/** What an SSH client signs to log in (RFC 4252 §7). */
function userAuthData(keyBlob: Buffer, method = "publickey", hostKey?: Buffer): Buffer {
  return Buffer.concat([
    sshString(Buffer.alloc(32, 7)),
    Buffer.from([50]),
    sshString("git"),
    sshString("ssh-connection"),
    sshString(method),
    Buffer.from([1]),
    sshString("ssh-ed25519"),
    sshString(keyBlob),
    ...(hostKey ? [sshString(hostKey)] : []),
  ]);
}

function signRequest(keyBlob: Buffer, data: Buffer): Buffer {
  return agentMessage(AGENT_MESSAGE.SIGN_REQUEST, Buffer.concat([sshString(keyBlob), sshString(data), u32(0)]));
}

/** The single message body of a framed answer. */
function body(framed: Buffer): Buffer {
  const messages = new AgentMessageReader().push(framed);
  assert.equal(messages.length, 1);
  return messages[0] as Buffer;
}

describe("ssh agent framing", () => {
  test("messages split across chunks and several in one chunk come out whole, in order", () => {
    const a = agentMessage(AGENT_MESSAGE.REQUEST_IDENTITIES);
    const b = signRequest(Buffer.from("blob"), Buffer.from("data"));
    const stream = Buffer.concat([a, b, a]);
    const reader = new AgentMessageReader();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 3) out.push(...reader.push(stream.subarray(i, i + 3)));
    assert.deepEqual(
      out.map((m) => m[0]),
      [11, 13, 11],
    );
    assert.equal(reader.pending, 0);
    assert.deepEqual(new AgentMessageReader().push(stream).length, 3);
  });

  test("a length over the bound or of zero is a protocol error, before the bytes arrive", () => {
    assert.throws(() => new AgentMessageReader().push(u32(MAX_AGENT_MESSAGE_BYTES + 1)), AgentProtocolError);
    assert.throws(() => new AgentMessageReader().push(u32(0xffffffff)), AgentProtocolError);
    assert.throws(() => new AgentMessageReader().push(u32(0)), AgentProtocolError);
    const atBound = new AgentMessageReader();
    assert.deepEqual(atBound.push(u32(MAX_AGENT_MESSAGE_BYTES)), []);
    assert.equal(atBound.pending, 4);
  });

  test("malformed contents are protocol errors; unknown types are 'other'", () => {
    const sign = (contents: Buffer) => parseAgentRequest(Buffer.concat([Buffer.from([13]), contents]));
    assert.throws(() => sign(Buffer.alloc(0)), AgentProtocolError);
    assert.throws(() => sign(Buffer.concat([u32(100), Buffer.from("short")])), AgentProtocolError);
    assert.throws(() => sign(Buffer.concat([sshString("k"), sshString("d")])), AgentProtocolError, "no flags");
    assert.throws(() => sign(Buffer.concat([sshString("k"), sshString("d"), u32(0), Buffer.from("x")])), AgentProtocolError, "trailing bytes");
    assert.throws(() => parseAgentRequest(Buffer.from([11, 0])), AgentProtocolError);
    assert.deepEqual(parseAgentRequest(Buffer.from([17, 1, 2, 3])), { kind: "other", type: 17 });
  });
});

describe("ssh agent answers", () => {
  const { identity, publicKey } = newIdentity();

  test("identities: the one key with its comment, or none", () => {
    const answer = body(answerAgentRequest({ kind: "identities" }, identity));
    assert.equal(answer[0], AGENT_MESSAGE.IDENTITIES_ANSWER);
    assert.equal(answer.readUInt32BE(1), 1);
    assert.deepEqual(answer.subarray(5), Buffer.concat([sshString(identity.keyBlob), sshString("outpost-test")]));
    const none = body(answerAgentRequest({ kind: "identities" }, null));
    assert.deepEqual(none, Buffer.from([12, 0, 0, 0, 0]));
  });

  test("a login request for its own key is signed, and the signature verifies", () => {
    for (const data of [userAuthData(identity.keyBlob), userAuthData(identity.keyBlob, "publickey-hostbound-v00@openssh.com", Buffer.from("hostkey"))]) {
      const request = parseAgentRequest(body(signRequest(identity.keyBlob, data)));
      const answer = body(answerAgentRequest(request, identity));
      assert.equal(answer[0], AGENT_MESSAGE.SIGN_RESPONSE);
      const blob = answer.subarray(5);
      assert.equal(answer.readUInt32BE(1), blob.length);
      assert.deepEqual(blob.subarray(0, 15), sshString("ssh-ed25519"));
      const signature = blob.subarray(19);
      assert.equal(signature.length, 64);
      assert.ok(verify(null, data, createPublicKey(publicKey.export({ format: "pem", type: "spki" })), signature));
    }
  });

  test("another key, data that is no SSH login, and every other request are refused", () => {
    const other = newIdentity().identity;
    const failure = Buffer.from([AGENT_MESSAGE.FAILURE]);
    const ask = (keyBlob: Buffer, data: Buffer, as: AgentIdentity | null = identity) =>
      body(answerAgentRequest(parseAgentRequest(body(signRequest(keyBlob, data))), as));
    assert.deepEqual(ask(other.keyBlob, userAuthData(other.keyBlob)), failure, "another project's key");
    assert.deepEqual(ask(identity.keyBlob, userAuthData(identity.keyBlob), null), failure, "no key at all");
    assert.deepEqual(ask(identity.keyBlob, userAuthData(other.keyBlob)), failure, "a login naming another key");
    assert.deepEqual(ask(identity.keyBlob, Buffer.from("SSHSIG\0\0\0\0git")), failure, "a commit signature");
    assert.deepEqual(ask(identity.keyBlob, Buffer.concat([userAuthData(identity.keyBlob), Buffer.from("x")])), failure, "trailing bytes");
    assert.deepEqual(ask(identity.keyBlob, Buffer.from("anything at all")), failure);
    for (const type of [17, 18, 19, 22, 25, 27]) {
      assert.deepEqual(body(answerAgentRequest({ kind: "other", type }, identity)), failure, `type ${type}`);
    }
    assert.equal(isUserAuthRequest(userAuthData(identity.keyBlob), identity.keyBlob), true);
  });
});

describe("ssh keys and known_hosts", () => {
  test("the public key line and fingerprint are what ssh-keygen reads and prints", () => {
    const { raw, identity } = newIdentity();
    const line = openSshPublicKey(raw, "outpost-my project\n");
    assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* outpost-myproject$/);
    const dir = mkdtempSync(join(tmpdir(), "outpost-keys-"));
    try {
      writeFileSync(join(dir, "key.pub"), `${line}\n`);
      const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "key.pub")], { encoding: "utf8" });
      assert.equal(printed.split(" ")[1], keyFingerprint(identity.keyBlob));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("scanned host keys are renamed the way the sandbox's ssh looks them up", () => {
    const ed = `AAAAC3NzaC1lZDI1NTE5AAAAI${"A".repeat(43)}`;
    const key = Buffer.concat([sshString("ssh-ed25519"), sshString(Buffer.alloc(32, 1))]).toString("base64");
    const scan = `# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2\n[127.0.0.1]:2222 ssh-ed25519 ${key}\n[127.0.0.1]:2222 ssh-ed25519 ${key}\n[127.0.0.1]:2222 ssh-rsa ${ed}\n`;
    assert.equal(knownHostsFromScan(scan, "host.outpost.internal", 2222), `[host.outpost.internal]:2222 ssh-ed25519 ${key}\n`);
    assert.equal(knownHostsFromScan(`github.com ssh-ed25519 ${key}`, "github.com", 22), `github.com ssh-ed25519 ${key}\n`);
    assert.equal(knownHostsFromScan("", "github.com", 22), "");
    assert.equal(knownHostsName("GitHub.com", 22), "github.com");
    assert.equal(knownHostsName("::1", 22), "[::1]:22");
  });

  test("pinned known_hosts text is checked line by line", () => {
    const key = Buffer.concat([sshString("ssh-ed25519"), sshString(Buffer.alloc(32, 1))]).toString("base64");
    assert.equal(knownHostsProblem(`github.com,140.82.112.3 ssh-ed25519 ${key}\n# comment\n\n[h.example]:2222 ssh-ed25519 ${key} note\n`), null);
    assert.match(knownHostsProblem(`@cert-authority * ssh-ed25519 ${key}`) ?? "", /markers/);
    assert.match(knownHostsProblem(`|1|abc= ssh-ed25519 ${key}`) ?? "", /hashed/);
    assert.match(knownHostsProblem(`*.example.com ssh-ed25519 ${key}`) ?? "", /not a host name/);
    assert.match(knownHostsProblem(`h.example ssh-rsa ${key}`) ?? "", /blob says 'ssh-ed25519'/);
    assert.match(knownHostsProblem("h.example ssh-ed25519 !!!") ?? "", /base64/);
    assert.match(knownHostsProblem("h.example ssh-dss AAAA") ?? "", /not one ssh accepts/);
    assert.match(knownHostsProblem(`h.example ssh-ed25519 ${key}\u0007`) ?? "", /printable/);
    assert.match(knownHostsProblem(`h ssh-ed25519 ${key}\n`.repeat(40)) ?? "", /at most/);
  });
});
