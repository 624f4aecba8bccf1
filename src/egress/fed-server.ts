// An http.Server that never listens: the connections sandboxes open to their proxy or
// gateway socket (or a TLS stream the proxy terminated) are fed to it, each labelled with
// the sandbox it came from. Shared by the proxy, the interceptor and the gateway, so the
// limits a hostile sandbox meets are set in one place.
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";

/** The longest a connection may take to send a whole request head. */
export const HEADERS_MS = 30_000;

export class FedServer {
  readonly server: Server;
  readonly #sandboxOf = new WeakMap<Duplex, string>();

  constructor(options: { maxHeaderBytes: number; headersMs?: number }) {
    const headersMs = options.headersMs ?? HEADERS_MS;
    this.server = createServer({
      maxHeaderSize: options.maxHeaderBytes,
      // Bodies and streamed answers may take as long as they take; heads may not.
      requestTimeout: 0,
      headersTimeout: headersMs,
      // How often node looks for connections past headersTimeout (its default is 30 s).
      connectionsCheckingInterval: Math.min(headersMs, HEADERS_MS),
      keepAliveTimeout: 30_000,
    });
    // Node starts connection tracking, and the timer that enforces headersTimeout, on the
    // server's 'listening' event. Never listening, this server would otherwise let a sandbox
    // that sends half a request line hold the socket and its parser for ever, and
    // closeAllConnections() would close nothing.
    this.server.emit("listening");
  }

  /** Serves one connection; `sandboxId` is who opened it. */
  accept(socket: Duplex, sandboxId?: string): void {
    if (sandboxId) this.#sandboxOf.set(socket, sandboxId);
    socket.on("error", () => socket.destroy());
    this.server.emit("connection", socket);
  }

  sandboxOf(socket: Duplex): string | undefined {
    return this.#sandboxOf.get(socket);
  }

  /** Ends every connection it serves, and node's checking timer. */
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
