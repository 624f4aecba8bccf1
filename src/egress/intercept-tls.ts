// TLS termination on a connection the egress proxy already accepted (a CONNECT tunnel after
// its "200"), presenting this installation's leaf for the tunnel's host, so the proxy can
// read the HTTP/1.1 requests inside and put the real credential in.
//
// The handshake is bounded: a sandbox that opens tunnels and never speaks would otherwise
// hold a socket and its parser for as long as it likes.
import type { Duplex } from "node:stream";
import { type SecureContext, TLSSocket } from "node:tls";
import type { CertificateAuthority } from "./certificates.ts";

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TerminateTlsOptions {
  /** Give up when the client has not finished its handshake by then (default 10 s). */
  timeoutMs?: number;
  /** Give up when this aborts (the proxy is closing); rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Serves TLS on `socket`, presenting a leaf for `hostname` (which the proxy took from the
 * CONNECT line; see CertificateAuthority.contextFor for what it accepts). Resolves with the
 * TLSSocket once the handshake is done; from then on the caller handles its 'error' events.
 * Rejects on handshake failure, on an invalid hostname, after `timeoutMs` or on abort, and
 * then both sockets are destroyed. Bytes the proxy already read past the CONNECT request
 * (the `head` of http.Server's 'connect' event) must be unshifted onto `socket` first.
 *
 * ALPN offers only "http/1.1": the proxy reads HTTP/1.1 from the tunnel, so a client that
 * prefers h2 is told to fall back. `servername` on the result is the name the client asked
 * for (SNI; a runtime property @types/node leaves out), which the proxy may compare with
 * `hostname`.
 */
export function terminateTls(socket: Duplex, hostname: string, ca: CertificateAuthority, options: TerminateTlsOptions = {}): Promise<TLSSocket> {
  const { timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS, signal } = options;
  return new Promise<TLSSocket>((resolve, reject) => {
    let secureContext: SecureContext;
    try {
      if (signal?.aborted) throw signal.reason;
      secureContext = ca.contextFor(hostname);
    } catch (error) {
      socket.destroy();
      reject(error);
      return;
    }
    const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ["http/1.1"] });

    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      tlsSocket.off("secure", onSecure);
      tlsSocket.off("error", fail);
      tlsSocket.off("close", onClose);
    };
    const fail = (error: unknown) => {
      settle();
      // Already rejected: a late error from the torn-down handshake has nobody to tell.
      tlsSocket.on("error", () => {});
      tlsSocket.destroy();
      socket.destroy();
      reject(error);
    };
    const onSecure = () => {
      settle();
      resolve(tlsSocket);
    };
    const onClose = () => fail(new Error(`the client closed the connection before the TLS handshake for ${hostname} finished`));
    const onAbort = () => fail(signal?.reason);

    const timer = setTimeout(() => fail(new Error(`the TLS handshake for ${hostname} did not finish within ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    tlsSocket.once("secure", onSecure);
    tlsSocket.once("error", fail);
    tlsSocket.once("close", onClose);
  });
}
