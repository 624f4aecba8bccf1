// The egress proxy on the host: every connection a sandbox makes to 127.0.0.1:3128 inside
// arrives here through that sandbox's own socket (so the sandbox is known without asking
// it), as an HTTP proxy request:
//   CONNECT host:port      checked against the project's policy, then tunnelled untouched —
//                          or, when a credential of the project goes to that host, its TLS
//                          is terminated with the installation CA so the credential can be
//                          put into the requests' headers (intercept.ts);
//   GET http://host/…      plain HTTP, checked and forwarded the same way;
//   anything else          400: this port is a proxy, nothing else.
// A refusal answers 403 with one line an agent can read and pass on: the host, why, and the
// command that would allow it. Every decision is recorded (EgressRecorder).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Duplex, pipeline } from "node:stream";
import { hostKind } from "../domain/egress-addresses.ts";
import { allowCommand, canonicalHost, decideEgress, type EgressDecision, HOST_MACHINE } from "../domain/egress-policy.ts";
import { type RepoEndpoint, repoEndpoint } from "../domain/git/repo-url.ts";
import type { SandboxEgress } from "../services/egress.ts";
import type { EgressRecorder } from "../services/egress-recorder.ts";
import type { CertificateAuthority } from "./certificates.ts";
import { DialError, dialChecked } from "./dial.ts";
import { FedServer } from "./fed-server.ts";
import { forwardRequest } from "./forward.ts";
import { Interceptor } from "./intercept.ts";

export interface EgressProxyDeps {
  context(sandboxId: string): Promise<SandboxEgress | null>;
  recorder: EgressRecorder;
  ca: CertificateAuthority;
  /** Extra CAs trusted for upstream TLS when intercepting (besides the system's). */
  upstreamCa?: string[];
  /** Test seam: DNS. */
  lookup?: Parameters<typeof dialChecked>[0]["lookup"];
  log(message: string): void;
  timeouts?: {
    /** A connection that has not sent a whole request head by then is closed (408). Default 30 s. */
    headersMs?: number;
    /** A tunnel with no bytes either way for this long is closed. Default 10 min. */
    idleMs?: number;
  };
}

const IDLE_MS = 10 * 60_000;

export class EgressProxy {
  readonly #fed: FedServer;
  readonly #interceptor: Interceptor;
  /** Open CONNECT tunnels (sandbox side), so close() can end them. */
  readonly #tunnels = new Set<Socket>();

  constructor(private readonly deps: EgressProxyDeps) {
    this.#fed = new FedServer({ maxHeaderBytes: 16 * 1024, headersMs: deps.timeouts?.headersMs });
    const server = this.#fed.server;
    // A handler that throws must cost its one connection, never the control plane (an
    // unhandled rejection ends the process).
    const failed = (connection: Duplex) => (error: unknown) => {
      deps.log(`egress: a proxy request failed: ${error instanceof Error ? error.message : String(error)}`);
      connection.destroy();
    };
    server.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#connect(req, socket as Socket, head).catch(failed(socket)));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#plainHttp(req, res).catch(failed(req.socket)));
    server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
      // What node's own handler would answer: a head too large, too slow, or malformed.
      const status =
        error.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? "408 Request Timeout"
            : "400 Bad Request";
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
    this.#interceptor = new Interceptor({ ca: deps.ca, upstreamCa: deps.upstreamCa, lookup: deps.lookup, log: deps.log });
  }

  /** Serves one connection that `sandboxId` opened to its proxy socket. */
  accept(sandboxId: string, socket: Socket): void {
    this.#fed.accept(socket, sandboxId);
  }

  close(): void {
    this.#fed.close();
    this.#interceptor.close();
    // CONNECT tunnels are detached from the HTTP server: they are ended here.
    for (const socket of this.#tunnels) socket.destroy();
  }

  async #connect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const target = parseAuthority(req.url ?? "");
    if (!target) return refuse(socket, 400, `'${(req.url ?? "").slice(0, 100)}' is not host:port`);
    const checked = await this.#check(socket, target.host, target.port, "CONNECT");
    if (!checked) return;
    const { ctx, decision, upstream, address, handle } = checked;
    const started = { up: socket.bytesRead, down: socket.bytesWritten };
    const finish = () =>
      handle.end({ bytesUp: socket.bytesRead - started.up - head.length, bytesDown: Math.max(0, socket.bytesWritten - started.down), address });

    if (this.#interceptor.wants(ctx, target.host)) {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) socket.unshift(head);
      this.#interceptor.serve(socket, {
        ctx,
        host: target.host,
        port: target.port,
        first: upstream,
        allowNonPublic: decision.allowNonPublic,
        hostMachine: decision.hostMachine,
      });
      socket.once("close", finish);
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    this.#tunnels.add(socket);
    socket.once("close", () => this.#tunnels.delete(socket));
    // With a deploy key in the sandbox's ssh-agent, SSH goes only to the project's
    // repository: the agent cannot see where a login goes, so the tunnel looks at the first
    // bytes each side sends, and an SSH version line elsewhere ends both sides.
    const gate =
      ctx.hasDeployKey && !isRepository(ctx, checked.base.host, target.port, "ssh")
        ? () => {
            const reason = sshRefusal(ctx);
            this.deps.log(`egress: SSH to ${checked.base.host}:${target.port} from ${checked.base.sandboxName} closed: ${reason}`);
            this.deps.recorder.record({ ...checked.base, startedAt: new Date(), allowed: false, rule: "ssh gate", reason, address });
          }
        : undefined;
    tunnel(socket, upstream, finish, this.deps.timeouts?.idleMs ?? IDLE_MS, head, gate);
  }

  async #plainHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
      if (url.protocol !== "http:") throw new Error("not http");
    } catch {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("Outpost egress proxy: send absolute http:// URLs here (HTTP_PROXY), or CONNECT host:port for anything else.\n");
      return;
    }
    const port = url.port ? Number(url.port) : 80;
    // The URL parser takes port 0; nothing listens there, so no lookup or dial is owed.
    if (port === 0) return answer(res, 400, `${url.host} has no valid port`);
    const checked = await this.#check(res, url.hostname, port, req.method ?? "GET", req.socket);
    if (!checked) return;
    const { ctx, decision, upstream, address, handle } = checked;
    forwardRequest(req, res, {
      host: canonicalHost(url.hostname),
      port,
      path: `${url.pathname}${url.search}`,
      connection: upstream,
      // Credentials travel in clear only to the host machine's loopback; elsewhere only over TLS.
      credentials: decision.hostMachine ? ctx.credentials : [],
      // The host the policy checked, not the sandbox's Host header (RFC 9112 §3.2.2): on a
      // shared address that header picks the site, and would front for a host not allowed.
      rewrite: (headers) => {
        headers.host = url.host;
      },
      onEnd: (bytes) => handle.end({ ...bytes, address }),
    });
  }

  /** Decides, records and dials; on refusal answers the client and returns null. */
  async #check(client: Socket | ServerResponse, rawHost: string, port: number, method: string, connection?: Socket) {
    // A pipelined request's response has no socket until the answers before it are sent:
    // the connection is the request's (HTTP keep-alive clients such as apt pipeline).
    const socket = connection ?? ("socket" in client && client.socket ? client.socket : (client as Socket));
    const sandboxId = this.#fed.sandboxOf(socket as Duplex);
    const ctx = sandboxId ? await this.deps.context(sandboxId).catch(() => null) : null;
    // The parser can still reject a request after 'request' fired (an unknown
    // Transfer-Encoding is caught only once the head is complete): clientError has answered
    // 400 and closed. Deciding, recording and dialling for it would reach out for nobody.
    if (!socket.writable) return null;
    if (!ctx || !sandboxId) {
      answer(client, 403, "this sandbox is not known to Outpost (deleted?)");
      return null;
    }
    const host = canonicalHost(rawHost);
    const decision: EgressDecision = decide(ctx, host, port);
    const base = {
      projectId: ctx.projectId,
      sandboxId,
      sandboxName: ctx.sandboxName,
      ownerId: ctx.ownerId,
      host,
      port,
      method,
      startedAt: new Date(),
    };
    if (!decision.allowed) {
      this.deps.recorder.record({ ...base, allowed: false, rule: decision.rule, reason: decision.reason, address: null });
      answer(
        client,
        403,
        `${host}:${port} refused for project ${ctx.projectName}: ${decision.reason}. To allow it: ${allowCommand(ctx.projectName, ctx.policy, host, port)}`,
      );
      return null;
    }
    try {
      const dialled = await dialChecked({
        host: decision.hostMachine ? "127.0.0.1" : host,
        port,
        allowNonPublic: decision.allowNonPublic,
        lookup: this.deps.lookup,
      });
      const handle = this.deps.recorder.record({ ...base, allowed: true, rule: decision.rule, reason: null, address: dialled.address });
      return { ctx, decision, upstream: dialled.socket, address: dialled.address, handle, base };
    } catch (error) {
      const refused = error instanceof DialError && error.code === "ADDRESS_REFUSED";
      const reason = error instanceof Error ? error.message : String(error);
      this.deps.recorder.record({ ...base, allowed: false, rule: refused ? "non-public address" : decision.rule, reason, address: null });
      if (refused) {
        answer(client, 403, `${reason}. To allow it: ${allowCommand(ctx.projectName, ctx.policy, host, port)}`);
      } else {
        answer(client, 502, `cannot reach ${host}:${port}: ${reason}`);
      }
      return null;
    }
  }
}

/** Is host:port the project's repository (over `transport`, when given)? */
function isRepository(ctx: SandboxEgress, host: string, port: number, transport?: RepoEndpoint["transport"]): boolean {
  const endpoint = ctx.repoUrl ? repoEndpoint(ctx.repoUrl) : null;
  if (!endpoint || (transport && endpoint.transport !== transport)) return false;
  return canonicalHost(endpoint.host) === host && endpoint.port === port;
}

/**
 * The policy's decision, plus the project's repository: its host and port are reachable
 * without a rule (clone, fetch, push), like a rule naming them exactly, unless the project
 * denies them or lets nothing out at all.
 */
function decide(ctx: SandboxEgress, host: string, port: number): EgressDecision {
  const decision = decideEgress(ctx.policy, host, port);
  if (decision.allowed || ctx.policy.level === "none" || decision.rule.startsWith("deny ") || !isRepository(ctx, host, port)) return decision;
  return { allowed: true, rule: "repository", allowNonPublic: true, hostMachine: host === HOST_MACHINE };
}

function sshRefusal(ctx: SandboxEgress): string {
  const endpoint = ctx.repoUrl ? repoEndpoint(ctx.repoUrl) : null;
  const where =
    endpoint?.transport === "ssh" ? `its repository (${endpoint.host}:${endpoint.port})` : "its repository, and its repository is not reached over SSH";
  return `project ${ctx.projectName} has a deploy key, so SSH may go only to ${where}`;
}

/** `host:port` of a CONNECT (IPv6 in brackets); null when malformed. */
export function parseAuthority(authority: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]{1,253})):(\d{1,5})$/.exec(authority);
  if (!match) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return null;
  const host = (match[1] ?? match[2] ?? "").toLowerCase();
  // The pattern lets through shapes that name no host (`a..b`, `1.2.3.4.5`, `[1:2]`): they
  // are malformed requests, not hosts for the policy to refuse with an `--allow` to suggest.
  if (hostKind(host) === "invalid") return null;
  return host === HOST_MACHINE || host.length > 0 ? { host, port } : null;
}

function answer(client: Socket | ServerResponse, status: number, line: string): void {
  if ("writeHead" in client) {
    if (client.headersSent) return void client.destroy();
    client.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-outpost-egress": status === 403 ? "denied" : "failed" });
    client.end(`Outpost egress proxy: ${line}\n`);
  } else {
    refuse(client, status, line);
  }
}

function refuse(socket: Socket, status: number, line: string): void {
  const body = `Outpost egress proxy: ${line}\n`;
  const reason = status === 403 ? "Forbidden" : status === 400 ? "Bad Request" : "Bad Gateway";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\nx-outpost-egress: ${status === 403 ? "denied" : "failed"}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Pipes both ways; each direction ends (FIN) when its source does, so bytes already written
 * are delivered before the other side closes. An error on either side, or both sides idle
 * for idleMs, tears down both. `onClose` runs once both sockets are closed.
 */
function tunnel(client: Socket, upstream: Socket, onClose: () => void, idleMs: number, head: Buffer, onSsh?: () => void): void {
  let closed = 0;
  const closedOne = () => {
    closed += 1;
    if (closed === 2) onClose();
  };
  client.once("close", closedOne);
  upstream.once("close", closedOne);
  const teardown = () => {
    client.destroy();
    upstream.destroy();
  };
  client.setTimeout(idleMs, teardown);
  upstream.setTimeout(idleMs, teardown);
  const pipe = (from: Socket, to: Socket) => pipeline(from, to, (error) => error && teardown());
  if (!onSsh) {
    if (head.length) upstream.write(head);
    pipe(client, upstream);
    pipe(upstream, client);
    return;
  }
  // Until a direction is piped, its errors are not pipeline's to handle.
  client.on("error", teardown);
  upstream.on("error", teardown);
  let refused = false;
  const refuseSsh = () => {
    if (refused) return;
    refused = true;
    onSsh();
    teardown();
  };
  for (const [from, to, first] of [
    [client, upstream, head],
    [upstream, client, Buffer.alloc(0)],
  ] as const) {
    firstBytes(from, first, (ssh, held, ended) => {
      if (ssh) return refuseSsh();
      if (refused) return;
      if (held.length) to.write(held);
      if (ended) to.end();
      else pipe(from, to);
    });
  }
}

const SSH_VERSION = Buffer.from("SSH-");

/**
 * Holds what `source` sends until it is known whether it starts with an SSH version line
 * (`SSH-`): as soon as its bytes are no prefix of that, or are all of it. Decided on bytes
 * only, never on time, so a quiet side costs nothing (the idle timeout still applies).
 * `held` is what was read meanwhile, to send on first; `ended` when the source ended before.
 */
function firstBytes(source: Socket, initial: Buffer, decided: (ssh: boolean, held: Buffer, ended: boolean) => void): void {
  let seen = initial;
  const decide = (): boolean => {
    const n = Math.min(seen.length, SSH_VERSION.length);
    if (n === 0) return false;
    const prefix = seen.subarray(0, n).equals(SSH_VERSION.subarray(0, n));
    if (prefix && n < SSH_VERSION.length) return false;
    source.off("data", onData);
    source.off("end", onEnd);
    source.pause();
    decided(prefix, seen, false);
    return true;
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
    decide();
  };
  const onEnd = () => {
    source.off("data", onData);
    // Too short to be SSH: what came is passed on, then the end.
    decided(false, seen, true);
  };
  if (decide()) return;
  source.on("data", onData);
  source.once("end", onEnd);
}
