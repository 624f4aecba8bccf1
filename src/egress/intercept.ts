// TLS interception, for the hosts a project's credentials go to and nothing else: the proxy
// answers the CONNECT, finishes the sandbox's TLS handshake with a certificate for that host
// from the installation CA (which sandboxes trust), reads the HTTP requests inside, puts
// the credential into their headers and sends each on over a fresh, verified TLS
// connection to the real host. Every other host is tunnelled untouched (proxy.ts). Hosts
// whose clients take a base URL (model APIs) go through the model gateway instead.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { rootCertificates, type TLSSocket, connect as tlsConnect } from "node:tls";
import { credentialsFor } from "../domain/credentials.ts";
import type { SandboxEgress } from "../services/egress.ts";
import type { CertificateAuthority } from "./certificates.ts";
import { dialChecked } from "./dial.ts";
import { FedServer } from "./fed-server.ts";
import { forwardRequest } from "./forward.ts";
import { terminateTls } from "./intercept-tls.ts";

interface Session {
  ctx: SandboxEgress;
  host: string;
  port: number;
  /** The connection the CONNECT already dialled, used by the first request. */
  first: Socket | null;
  allowNonPublic: boolean;
  hostMachine: boolean;
}

export interface InterceptorDeps {
  ca: CertificateAuthority;
  /** PEM certificates trusted for upstream TLS (default: Node's roots). */
  upstreamCa?: string[];
  lookup?: Parameters<typeof dialChecked>[0]["lookup"];
  log(message: string): void;
}

export class Interceptor {
  readonly #fed = new FedServer({ maxHeaderBytes: 16 * 1024 });
  readonly #sessions = new WeakMap<Duplex, Session>();

  constructor(private readonly deps: InterceptorDeps) {
    this.#fed.server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.#request(req, res));
    this.#fed.server.on("clientError", (_error, socket) => socket.destroy());
  }

  /** Whether a credential of the project goes to `host` (then its TLS is terminated here). */
  wants(ctx: SandboxEgress, host: string): boolean {
    return credentialsFor(ctx.credentials, host).length > 0;
  }

  serve(socket: Socket, session: Session): void {
    terminateTls(socket, session.host, this.deps.ca).then(
      (tls) => {
        this.#sessions.set(tls, session);
        tls.on("close", () => session.first?.destroy());
        this.#fed.accept(tls);
      },
      (error: Error) => {
        this.deps.log(`egress: TLS with the sandbox for ${session.host} failed: ${error.message}`);
        socket.destroy();
        session.first?.destroy();
      },
    );
  }

  close(): void {
    this.#fed.close();
  }

  async #request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = this.#sessions.get(req.socket);
    if (!session) return void res.destroy();
    let upstream: TLSSocket;
    try {
      upstream = await this.#upstream(session);
    } catch (error) {
      res.writeHead(502, { "content-type": "text/plain; charset=utf-8", "x-outpost-egress": "failed" });
      res.end(`Outpost egress proxy: cannot reach ${session.host}:${session.port}: ${(error as Error).message}\n`);
      return;
    }
    forwardRequest(req, res, {
      host: session.host,
      port: session.port,
      path: req.url ?? "/",
      connection: upstream,
      credentials: session.ctx.credentials,
      // The host the tunnel was opened (and checked) for, whatever Host the sandbox wrote:
      // behind a shared front end Host picks the site, and the credential must not follow it elsewhere.
      rewrite: (headers) => {
        headers.host = session.port === 443 ? hostForHeader(session.host) : `${hostForHeader(session.host)}:${session.port}`;
      },
    });
  }

  /** A verified TLS connection to the real host, over an address checked like any other. */
  async #upstream(session: Session): Promise<TLSSocket> {
    let socket = session.first;
    session.first = null;
    if (!socket || socket.destroyed) {
      const dialled = await dialChecked({
        host: session.hostMachine ? "127.0.0.1" : session.host,
        port: session.port,
        allowNonPublic: session.allowNonPublic,
        lookup: this.deps.lookup,
      });
      socket = dialled.socket;
    }
    const ca = [...rootCertificates, ...(this.deps.upstreamCa ?? [])];
    const tls = tlsConnect({ socket, host: session.host, servername: isIP(session.host) ? undefined : session.host, ca, ALPNProtocols: ["http/1.1"] });
    await new Promise<void>((resolve, reject) => {
      tls.once("secureConnect", () => resolve());
      tls.once("error", reject);
    });
    return tls;
  }
}

function hostForHeader(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
