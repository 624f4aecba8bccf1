// POST /v1/tunnel?port=N: a raw byte stream both ways to 127.0.0.1:N inside the sandbox
// (previews, the database bridge, port forwarding). The request body is what the control
// plane sends, the response body what the port answers; the answer's 200 comes once the
// connection is made, so "nothing listens there" is an ordinary 502 PORT_NOT_LISTENING.
// Flow control both ways: each side is piped with backpressure (stream.pipeline), so a
// slow reader on either end stalls the other instead of growing a buffer. Either side
// closing ends the tunnel.
import { connect, type Socket } from "node:net";
import { pipeline } from "node:stream";
import { invalid, SupervisorError } from "./errors.ts";
import type { Handler } from "./http-types.ts";

export function tunnelHandler(): Handler {
  return async (request, response) => {
    const port = Number(request.query.get("port"));
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid("'port' must be an integer from 1 to 65535.");
    const socket = await new Promise<Socket>((resolve, reject) => {
      const candidate = connect({ host: "127.0.0.1", port });
      candidate.once("connect", () => resolve(candidate));
      candidate.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "ECONNREFUSED"
            ? new SupervisorError("PORT_NOT_LISTENING", `Nothing listens on port ${port} in the sandbox.`)
            : new SupervisorError("PORT_NOT_LISTENING", `Cannot connect to port ${port} in the sandbox: ${error.code ?? error.message}.`),
        );
      });
    });
    socket.setNoDelay(true);
    response.start(200, { "content-type": "application/octet-stream", "cache-control": "no-store" });
    const sink = response.raw;
    await new Promise<void>((resolve) => {
      let open = 2;
      const closed = () => {
        open -= 1;
        if (open === 0) resolve();
      };
      // Port → control plane; ends the response when the port closes its side.
      pipeline(socket, sink, () => {
        socket.destroy();
        closed();
      });
      // Control plane → port; half-closes the port's side when the request body ends.
      pipeline(request.body, socket, () => closed());
      request.signal.addEventListener("abort", () => socket.destroy(), { once: true });
    });
  };
}
