// The local driver's end of the supervisor links: for each sandbox the control plane
// listens on `<sandbox>/link/link.sock`, in a folder the control plane owns and the sandbox
// sees read-only at /run/outpost. So nothing a sandbox can write decides where the control
// plane connects (it never connects: it listens), and a sandbox can reach no other
// sandbox's socket (it cannot see one). The folder is 0750 root:<sandbox gid> when the
// control plane is root, so other host accounts cannot dial in either; and every hello
// must name this sandbox and carry its token (link/token, readable only by the same
// accounts), which a process of another sandbox cannot know.
import { timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { acceptLink, LinkRefusedError } from "../../supervisor/link/accept.ts";
import { MAX_LINK_CONNECTIONS_PER_SANDBOX, maxWayOutConnections } from "../../supervisor/link/limits.ts";
import type { LinkRegistry } from "../../supervisor/link/registry.ts";
import type { EgressEndpoint } from "../driver.ts";
import { forceRemove } from "./layout.ts";

/** The agent's socket in the link folder (the sandbox's SSH_AUTH_SOCK points at it). */
const SSH_AGENT_SOCKET = "ssh-agent.sock";
/** The project database's socket (the supervisor bridges 127.0.0.1:5432 to it). */
const DATABASE_SOCKET = "database.sock";

export interface LinkSocketPaths {
  linkSocket: string;
  linkToken: string;
  /** The folder and the way-out sockets (absent: the sandbox gets no egress sockets). */
  link?: string;
  egressSocket?: string;
  gatewaySocket?: string;
}

export class LinkSockets {
  readonly #servers = new Map<string, Server>();
  readonly #egressServers = new Map<string, Server[]>();
  /** Listens in progress, so that concurrent callers (start() and an ensure) share one. */
  readonly #pending = new Map<string, Promise<void>>();

  constructor(
    private readonly registry: LinkRegistry,
    private readonly log: (message: string) => void,
    private readonly egress?: EgressEndpoint,
  ) {}

  isListening(sandboxId: string): boolean {
    return this.#servers.has(sandboxId);
  }

  /** Listens for the sandbox's supervisor (idempotent). The socket file is recreated:
   *  one left by a killed control plane refuses connections until then. */
  async listen(sandboxId: string, paths: LinkSocketPaths): Promise<void> {
    if (this.#servers.has(sandboxId)) return;
    const pending = this.#pending.get(sandboxId);
    if (pending) return pending;
    const listening = this.#listen(sandboxId, paths).finally(() => this.#pending.delete(sandboxId));
    this.#pending.set(sandboxId, listening);
    return listening;
  }

  async #listen(sandboxId: string, paths: LinkSocketPaths): Promise<void> {
    const token = Buffer.from(readFileSync(paths.linkToken, "utf8").trim());
    const server = createServer((socket) => {
      acceptLink(socket, {
        verify: (hello) => {
          if (hello.sandboxId !== sandboxId) {
            return { code: "LINK_WRONG_SANDBOX", message: `this link belongs to ${sandboxId}, not ${hello.sandboxId}`, claimed: hello.sandboxId };
          }
          const offered = Buffer.from(hello.token);
          if (offered.length !== token.length || !timingSafeEqual(offered, token)) {
            return { code: "LINK_BAD_TOKEN", message: "the link token does not match this sandbox's", claimed: hello.sandboxId };
          }
          return null;
        },
      }).then(
        (session) => this.registry.attach(session),
        (error) => {
          if (error instanceof LinkRefusedError) {
            this.log(`refused a link on ${sandboxId}: ${error.refusal.code}`);
            this.registry.refused(sandboxId, error.refusal);
          }
        },
      );
    });
    // The link plus a few handshakes in flight: a sandbox that opens connections in a loop
    // cannot make the control plane hold more than this many of its sockets.
    server.maxConnections = MAX_LINK_CONNECTIONS_PER_SANDBOX;
    server.on("error", (error) => this.log(`link socket of ${sandboxId}: ${error.message}`));
    forceRemove(paths.linkSocket);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(paths.linkSocket, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#servers.set(sandboxId, server);
    // The folder guards who may connect; the socket itself must be connectable by the
    // sandbox's uid (connect() needs write permission on the socket file).
    chmodSync(paths.linkSocket, 0o666);
    server.unref();
    const { link, egressSocket, gatewaySocket } = paths;
    if (this.egress && link && egressSocket && gatewaySocket) await this.#listenEgress(sandboxId, { link, egressSocket, gatewaySocket }, this.egress);
  }

  async #listenEgress(
    sandboxId: string,
    paths: Required<Pick<LinkSocketPaths, "link" | "egressSocket" | "gatewaySocket">>,
    egress: EgressEndpoint,
  ): Promise<void> {
    writePublicFile(join(paths.link, "ca.pem"), egress.caPem);
    writePublicFile(join(paths.link, "ca-bundle.pem"), egress.caBundlePem);
    const servers: Server[] = [];
    for (const [kind, path] of [
      ["proxy", paths.egressSocket],
      ["gateway", paths.gatewaySocket],
      ["ssh-agent", join(paths.link, SSH_AGENT_SOCKET)],
      ["database", join(paths.link, DATABASE_SOCKET)],
    ] as const) {
      // Half-open allowed: a client that is done sending (FIN) still gets its answer.
      const server = createServer({ allowHalfOpen: true }, (socket) => egress.accept(kind, sandboxId, socket));
      server.maxConnections = maxWayOutConnections(kind);
      server.on("error", (error) => this.log(`${kind} socket of ${sandboxId}: ${error.message}`));
      forceRemove(path);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => {
          server.off("error", reject);
          resolve();
        });
      });
      chmodSync(path, 0o666);
      server.unref();
      servers.push(server);
    }
    this.#egressServers.set(sandboxId, servers);
  }

  /** Stops listening and drops the current link (the sandbox is stopping or gone). */
  async close(sandboxId: string, reason: string): Promise<void> {
    const server = this.#servers.get(sandboxId);
    const egress = this.#egressServers.get(sandboxId) ?? [];
    this.#servers.delete(sandboxId);
    this.#egressServers.delete(sandboxId);
    this.registry.drop(sandboxId, reason);
    await Promise.all([server, ...egress].map((s) => (s ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
  }

  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.#servers.keys()].map((id) => this.close(id, reason)));
  }
}

/** Written whole (rename), readable by the sandbox through its folder's group. */
function writePublicFile(path: string, content: string): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, content, { mode: 0o644 });
  chmodSync(temporary, 0o644);
  renameSync(temporary, path);
}
