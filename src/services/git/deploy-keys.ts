// A project's SSH deploy key: made here (ed25519, node:crypto), its private half sealed at
// once and opened only on the host, by the ssh-agent that signs for the project's
// sandboxes (egress/ssh-agent.ts). People get the public line to add to the repository.
// When a key is made and the project's repository is reached over SSH, the repository
// host's keys are scanned from the host side and pinned (projects.git.knownHosts), named
// the way the sandbox's ssh looks them up; pins a person set are never overwritten.
import { execFile } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import type pg from "pg";
import type { SecretBox } from "../../crypto/secrets.ts";
import type { Principal } from "../../domain/authorization.ts";
import { HOST_MACHINE } from "../../domain/egress-policy.ts";
import { OutpostError } from "../../domain/errors.ts";
import { repoEndpoint } from "../../domain/git/repo-url.ts";
import type { AgentIdentity } from "../../domain/git/ssh-agent-protocol.ts";
import { ed25519KeyBlob, ed25519SignatureBlob, keyFingerprint, knownHostsFromScan, openSshPublicKey } from "../../domain/git/ssh-keys.ts";
import { withTransaction } from "../../store/database.ts";
import { findDeployKey, findKnownHosts, putDeployKey, setKnownHosts } from "../../store/deploy-keys.ts";
import { appendEvent } from "../../store/events.ts";
import { resolveProject } from "../project-access.ts";
import type { ProjectChanges } from "../project-changes.ts";

export interface DeployKeyView {
  publicKey: string;
  fingerprint: string;
  createdAt: Date;
  /** The host keys pinned for the repository (known_hosts lines), or null. */
  knownHosts: string | null;
}

/** `ssh-keyscan` of host:port → its output; injectable for tests. */
export type HostKeyScanner = (host: string, port: number) => Promise<string>;

const SCAN_TIMEOUT_S = 10;
const SCAN_MAX_OUTPUT = 64 * 1024;

/** The context a key is sealed under: a sealed key copied onto another project does not open. */
export const deployKeyContext = (projectId: string) => `deploy_key:${projectId}`;

export class DeployKeyService {
  readonly #scan: HostKeyScanner;
  readonly #log: (message: string) => void;

  constructor(
    private readonly pool: pg.Pool,
    private readonly box: SecretBox,
    private readonly changes?: ProjectChanges,
    options: { scan?: HostKeyScanner; log?: (message: string) => void } = {},
  ) {
    this.#scan = options.scan ?? keyscan;
    this.#log = options.log ?? (() => {});
  }

  async get(principal: Principal, ref: string): Promise<DeployKeyView> {
    const project = await resolveProject(this.pool, principal, ref, "project.read");
    const view = await this.find(project.id);
    if (!view) {
      throw new OutpostError("DEPLOY_KEY_NOT_FOUND", `Project '${project.name}' has no deploy key yet.`, {
        fix: `Create one with \`outpost project deploy-key ${project.name}\` and add its public key to the repository.`,
      });
    }
    return view;
  }

  /** The public part of the project's key, or null (for the project's git settings). */
  async find(projectId: string): Promise<DeployKeyView | null> {
    const [row, knownHosts] = await Promise.all([findDeployKey(this.pool, projectId), findKnownHosts(this.pool, projectId)]);
    return row ? { publicKey: row.publicKey, fingerprint: row.fingerprint, createdAt: row.createdAt, knownHosts } : null;
  }

  /**
   * Makes the project's key, or a new one in its place (the old one stops working at once:
   * remove it from the repository too). Then pins the repository host's keys if it is
   * reached over SSH and none are pinned; a scan that fails is a warning, not a failure.
   */
  async create(principal: Principal, ref: string): Promise<{ key: DeployKeyView; rotated: boolean; warning: string | null }> {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const raw = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const { project, row, rotated } = await withTransaction(this.pool, async (tx) => {
      const project = await resolveProject(tx, principal, ref, "project.update", true);
      const existing = await findDeployKey(tx, project.id);
      const row = await putDeployKey(tx, {
        projectId: project.id,
        publicKey: openSshPublicKey(raw, `outpost-${project.name}`),
        fingerprint: keyFingerprint(ed25519KeyBlob(raw)),
        privateKeyEnc: this.box.seal(pem, deployKeyContext(project.id)),
      });
      await appendEvent(tx, {
        type: existing ? "project.deploy_key.rotated" : "project.deploy_key.created",
        ownerId: principal.userId,
        projectId: project.id,
        data: { fingerprint: row.fingerprint, ...(existing ? { previous: existing.fingerprint } : {}) },
      });
      return { project, row, rotated: existing !== null };
    });
    let warning: string | null = null;
    if (project.repoUrl && (await findKnownHosts(this.pool, project.id)) === null) {
      warning = await this.pinHostKeys(project.id, project.repoUrl).then(
        () => null,
        (error: Error) => error.message,
      );
    }
    this.changes?.changed(project.id);
    const knownHosts = await findKnownHosts(this.pool, project.id);
    return { key: { publicKey: row.publicKey, fingerprint: row.fingerprint, createdAt: row.createdAt, knownHosts }, rotated, warning };
  }

  /**
   * Scans the SSH repository's host keys from the host side and pins them (replacing what
   * was pinned). For when a repository URL is set. Nothing for an HTTP(S) repository.
   * Throws (with a one-line message) when the host answers with no key.
   */
  async pinHostKeys(projectId: string, repoUrl: string): Promise<string | null> {
    const endpoint = repoEndpoint(repoUrl);
    if (endpoint?.transport !== "ssh") return null;
    // The sandbox's host.outpost.internal is this machine's loopback.
    const target = endpoint.host === HOST_MACHINE ? "127.0.0.1" : endpoint.host;
    const output = await this.#scan(target, endpoint.port).catch((error: Error) => {
      throw new Error(`scanning ${endpoint.host}:${endpoint.port} for its host keys failed: ${error.message}`);
    });
    const knownHosts = knownHostsFromScan(output, endpoint.host, endpoint.port);
    if (!knownHosts) throw new Error(`${endpoint.host}:${endpoint.port} offered no SSH host key; pin its keys through the API instead`);
    await setKnownHosts(this.pool, projectId, knownHosts);
    this.changes?.changed(projectId);
    this.#log(`pinned ${knownHosts.trim().split("\n").length} host key(s) of ${endpoint.host}:${endpoint.port} for ${projectId}`);
    return knownHosts;
  }

  /** The key the host-side agent offers to the project's sandboxes (null: none made yet). */
  async agentIdentity(projectId: string): Promise<AgentIdentity | null> {
    const row = await findDeployKey(this.pool, projectId);
    if (!row) return null;
    const privateKey = createPrivateKey(this.box.open(row.privateKeyEnc, deployKeyContext(projectId)));
    const [, base64 = "", comment = ""] = row.publicKey.split(" ");
    return {
      keyBlob: Buffer.from(base64, "base64"),
      comment,
      sign: (data) => ed25519SignatureBlob(sign(null, data, privateKey)),
    };
  }
}

/** `ssh-keyscan -T 10 -p PORT -- host`: its stdout (keys), bounded in time and size. */
function keyscan(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "ssh-keyscan",
      ["-T", String(SCAN_TIMEOUT_S), "-p", String(port), "--", host],
      { timeout: (SCAN_TIMEOUT_S + 5) * 1000, maxBuffer: SCAN_MAX_OUTPUT, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === "ENOENT")
          return reject(new Error("ssh-keyscan is not installed (apt-get install openssh-client)"));
        // ssh-keyscan exits 0 even when a host does not answer; its keys are what counts.
        if (error && !stdout) return reject(new Error(stderr.trim().split("\n").at(-1) || error.message));
        resolve(stdout);
      },
    );
  });
}
