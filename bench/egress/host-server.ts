// The bench's upstream on the host's loopback: one handler served over HTTP and over HTTPS
// (a throwaway test CA, so curl can verify it inside the sandbox and on the host alike).
//   GET /             "ok\n": the small request of the latency figures
//   GET /bytes?n=N    N bytes, written from one reused 1 MiB buffer with backpressure, so
//                     the server costs the same whichever way the bytes leave
// Both listen on 127.0.0.1 only; closing drops every open connection.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { makeTestCa } from "../../test/helpers/test-ca.ts";
import { deferCleanup } from "../lib/cleanup.ts";

export const HOST_MACHINE = "host.outpost.internal";

const CHUNK = Buffer.alloc(1024 * 1024, "outpost ");
const SMALL = Buffer.from("ok\n");

export interface HostServers {
  httpPort: number;
  httpsPort: number;
  /** PEM of the CA that signed the HTTPS server's certificate (for 127.0.0.1 and host.outpost.internal). */
  caPem: string;
  close(): void;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://bench");
  if (url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": SMALL.length });
    res.end(SMALL);
    return;
  }
  const size = Number(url.searchParams.get("n"));
  if (url.pathname !== "/bytes" || !Number.isSafeInteger(size) || size < 0) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
  let left = size;
  const write = () => {
    while (left > 0) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) return void res.once("drain", write);
    }
    res.end();
  };
  res.on("close", () => {
    left = 0;
  });
  write();
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return (server.address() as AddressInfo).port;
}

export async function startHostServers(): Promise<HostServers> {
  const ca = makeTestCa();
  const plain = createHttpServer(handle);
  const tls = createHttpsServer(ca.issue([HOST_MACHINE, "127.0.0.1"]), handle) as unknown as Server;
  const close = () => {
    for (const server of [plain, tls]) {
      server.close();
      server.closeAllConnections();
    }
  };
  const done = deferCleanup("the egress bench's host servers", close);
  const [httpPort, httpsPort] = await Promise.all([listen(plain), listen(tls)]);
  return {
    httpPort,
    httpsPort,
    caPem: ca.caPem,
    close: () => {
      close();
      done();
    },
  };
}
