// The sandbox's way out, inside: the sandbox has no network but loopback, so the supervisor
// listens on 127.0.0.1:3128 (the egress proxy, HTTP_PROXY) and 127.0.0.1:3129 (the model
// gateway, ANTHROPIC_BASE_URL …) and pipes every connection to the control plane's socket
// for that purpose in /run/outpost. Bytes only: all the deciding happens on the host, which
// knows the sandbox by the socket the bytes arrive on. When the host side is not there
// (an older control plane, or it is restarting) a connection is simply closed.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Bridge {
  port: number;
  socketPath: string;
}

const MAX_CONNECTIONS = 512;

export function startBridges(bridges: Bridge[], log: (message: string) => void): Server[] {
  return bridges.map(({ port, socketPath }) => {
    const server = createServer((inside: Socket) => {
      const outside = connect(socketPath);
      const close = () => {
        inside.destroy();
        outside.destroy();
      };
      inside.on("error", close);
      outside.on("error", close);
      inside.on("close", close);
      outside.on("close", close);
      inside.setNoDelay(true);
      inside.pipe(outside);
      outside.pipe(inside);
    });
    server.maxConnections = MAX_CONNECTIONS;
    server.on("error", (error) => log(`egress bridge on 127.0.0.1:${port}: ${error.message}`));
    server.listen({ host: "127.0.0.1", port }, () => log(`egress bridge 127.0.0.1:${port} → ${socketPath}`));
    server.unref();
    return server;
  });
}
