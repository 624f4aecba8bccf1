// How many connections one sandbox may hold open to the control plane at once, whatever
// carries them: the local driver's per-sandbox unix sockets (drivers/local/link-sockets.ts)
// and the TLS endpoint that pods dial (tls-endpoint.ts). One place, so a sandbox gets the
// same room on every driver and a change reaches both.

/** The link plus a few reconnects in flight (a newer link replaces the older at once). */
export const MAX_LINK_CONNECTIONS_PER_SANDBOX = 8;
/** Connections a sandbox may hold open to its egress proxy, and as many to its model gateway. */
export const MAX_EGRESS_CONNECTIONS_PER_SANDBOX = 256;
/** Connections a sandbox may hold open to its ssh-agent (one per ssh running). */
export const MAX_AGENT_CONNECTIONS_PER_SANDBOX = 32;
/** Connections a sandbox may hold open to its database (the role's own limit is lower). */
export const MAX_DATABASE_CONNECTIONS_PER_SANDBOX = 64;

/** The way-out services a sandbox reaches through its control plane. */
export type WayOutKind = "proxy" | "gateway" | "ssh-agent" | "database";

/** How many connections of one kind a sandbox may hold open at once. */
export function maxWayOutConnections(kind: WayOutKind): number {
  switch (kind) {
    case "ssh-agent":
      return MAX_AGENT_CONNECTIONS_PER_SANDBOX;
    case "database":
      return MAX_DATABASE_CONNECTIONS_PER_SANDBOX;
    default:
      return MAX_EGRESS_CONNECTIONS_PER_SANDBOX;
  }
}
