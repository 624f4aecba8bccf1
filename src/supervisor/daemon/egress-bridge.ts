// The sandbox's way out, inside: the sandbox has no network but loopback (local driver) or
// may reach nothing but the control plane's link endpoint (Kubernetes), so the supervisor
// listens on 127.0.0.1:3128 (the egress proxy, HTTP_PROXY), 127.0.0.1:3129 (the model
// gateway, ANTHROPIC_BASE_URL …), 127.0.0.1:5432 (the project database) and a unix socket
// for the ssh agent (SSH_AUTH_SOCK), and pipes every connection to the control plane:
//   local driver: to its socket for that purpose in /run/outpost, which says the sandbox;
//   Kubernetes:   as a new TLS connection to the link endpoint that opens with a bridge
//                 line (link-bridge.ts) carrying the sandbox's token.
// Bytes only: all the deciding happens on the control plane. When its side is not there
// (an older control plane, or it is restarting) a connection is simply closed.
import { chmodSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { pipeline } from "node:stream";
import type { BridgeSpec } from "./args.ts";
import { openLinkBridge } from "./link-bridge.ts";
import type { Connect } from "./link-connect.ts";

const MAX_CONNECTIONS = 512;

export interface BridgeOptions {
  /** Opens a connection to the link endpoint (needed by `link:` bridges). */
  connect?: Connect;
  sandboxId: string;
  /** The sandbox's token, read at every bridged connection (the driver may rotate it). */
  token: () => string;
  log: (message: string) => void;
}

export function startBridges(bridges: BridgeSpec[], options: BridgeOptions): Server[] {
  return bridges.map((bridge) => {
    const where = "port" in bridge.listen ? `127.0.0.1:${bridge.listen.port}` : bridge.listen.path;
    const target = "socketPath" in bridge.to ? bridge.to.socketPath : `the link endpoint (${bridge.to.link})`;
    const open = opener(bridge, options, where);
    // Half-open both ways: a client that is done sending (FIN) still gets its answer. Paused
    // until the far side is there: nothing is read that could not be passed on.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (inside: Socket) => {
      inside.setNoDelay?.(true);
      inside.on("error", () => {});
      open().then(
        (outside) => {
          if (inside.destroyed) return outside.destroy();
          // Each direction ends when its source does (half-close), so an answer written just
          // before the far side closes is still delivered; an error tears down both.
          const teardown = () => {
            inside.destroy();
            outside.destroy();
          };
          pipeline(inside, outside, (error) => error && teardown());
          pipeline(outside, inside, (error) => error && teardown());
        },
        () => inside.destroy(),
      );
    });
    server.maxConnections = MAX_CONNECTIONS;
    server.on("error", (error) => options.log(`egress bridge on ${where}: ${error.message}`));
    if ("port" in bridge.listen) {
      server.listen({ host: "127.0.0.1", port: bridge.listen.port }, () => options.log(`egress bridge ${where} → ${target}`));
    } else {
      const path = bridge.listen.path;
      // A socket file left by an earlier supervisor would make listen() fail.
      rmSync(path, { force: true });
      server.listen(path, () => {
        // Any user of the sandbox may use its agent (SSH_AUTH_SOCK): connect() needs write permission.
        chmodSync(path, 0o666);
        options.log(`egress bridge ${where} → ${target}`);
      });
    }
    server.unref();
    return server;
  });
}

/** Opens the far side of one bridged connection (rejects when it is not there). */
function opener(bridge: BridgeSpec, options: BridgeOptions, where: string): () => Promise<Socket> {
  if ("socketPath" in bridge.to) {
    const path = bridge.to.socketPath;
    return () =>
      new Promise((resolve, reject) => {
        const outside = connect({ path, allowHalfOpen: true }, () => {
          outside.off("error", reject);
          resolve(outside);
        });
        outside.once("error", reject);
      });
  }
  const kind = bridge.to.link;
  const dial = options.connect;
  if (!dial) throw new Error(`the bridge on ${where} goes through the link, which is not a tls:// link`);
  return () => openLinkBridge({ connect: dial, hello: { sandboxId: options.sandboxId, token: options.token(), kind }, log: options.log });
}
