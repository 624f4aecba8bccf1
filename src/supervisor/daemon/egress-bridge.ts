// The sandbox's way out, inside: the sandbox has no network but loopback, so the supervisor
// listens on 127.0.0.1:3128 (the egress proxy, HTTP_PROXY) and 127.0.0.1:3129 (the model
// gateway, ANTHROPIC_BASE_URL …) and pipes every connection to the control plane's socket
// for that purpose in /run/outpost. Bytes only: all the deciding happens on the host, which
// knows the sandbox by the socket the bytes arrive on. When the host side is not there
// (an older control plane, or it is restarting) a connection is simply closed.
import { connect, createServer, type Server, type Socket } from "node:net";
import { pipeline } from "node:stream";

export interface Bridge {
  port: number;
  socketPath: string;
}

const MAX_CONNECTIONS = 512;

export function startBridges(bridges: Bridge[], log: (message: string) => void): Server[] {
  return bridges.map(({ port, socketPath }) => {
    // Half-open both ways: a client that is done sending (FIN) still gets its answer.
    const server = createServer({ allowHalfOpen: true }, (inside: Socket) => {
      const outside = connect({ path: socketPath, allowHalfOpen: true });
      inside.setNoDelay(true);
      // Each direction ends when its source does (half-close), so an answer written just
      // before the far side closes is still delivered; an error tears down both.
      const teardown = () => {
        inside.destroy();
        outside.destroy();
      };
      pipeline(inside, outside, (error) => error && teardown());
      pipeline(outside, inside, (error) => error && teardown());
    });
    server.maxConnections = MAX_CONNECTIONS;
    server.on("error", (error) => log(`egress bridge on 127.0.0.1:${port}: ${error.message}`));
    server.listen({ host: "127.0.0.1", port }, () => log(`egress bridge 127.0.0.1:${port} → ${socketPath}`));
    server.unref();
    return server;
  });
}
