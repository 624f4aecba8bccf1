// How the supervisor reaches its control plane: the local driver's unix socket, or the
// Kubernetes link endpoint over TLS. Both the link (dialer.ts) and the bridged ways out
// (egress-bridge.ts) open connections through here, so certificate checking lives in one
// place. With TLS, only the CA given by --link-ca is trusted (not the system's roots), the
// certificate must name the host of the link (a DNS name, or an IP in its IP SANs), and
// `ready` runs only after all of that was checked: no token is sent to an endpoint that
// could not prove it is the control plane.
import { readFileSync } from "node:fs";
import { connect as connectUnix, isIP, type Socket } from "node:net";
import { type ConnectionOptions, connect as connectTls, createSecureContext } from "node:tls";
import { LINK_ALPN } from "../link/preface.ts";
import type { LinkAddress } from "./args.ts";

/** Opens a connection; `ready` runs once bytes may be sent. Errors come as 'error' events. */
export type Connect = (ready: () => void) => Socket;

/** Reads the CA file now (a bad one fails the start, not every dial) and returns the opener. */
export function linkConnector(link: LinkAddress, caFile: string | undefined): Connect {
  if ("path" in link) return (ready) => connectUnix(link.path, ready);
  if (!caFile) throw new Error("a tls:// link needs --link-ca");
  const ca = readFileSync(caFile, "utf8");
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${caFile} holds no PEM certificate`);
  // allowHalfOpen (a bridged client that is done sending still gets its answer) is a
  // tls.connect option node's typings leave out.
  const options: ConnectionOptions & { allowHalfOpen: boolean } = {
    host: link.host,
    port: link.port,
    secureContext: createSecureContext({ ca, minVersion: "TLSv1.3" }),
    // SNI carries DNS names only (RFC 6066); an IP is checked against the IP SANs.
    ...(isIP(link.host) ? {} : { servername: link.host }),
    ALPNProtocols: [LINK_ALPN],
    rejectUnauthorized: true,
    allowHalfOpen: true,
  };
  return (ready) => connectTls(options, ready);
}

/**
 * True for an error that says the endpoint could not be reached or dropped the connection
 * (it restarts; it is busy), as opposed to one that says it is not who it should be (a
 * certificate that does not verify, a peer that does not speak TLS): those are logged.
 */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}
