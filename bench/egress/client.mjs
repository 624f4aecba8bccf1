// Times sequential small GETs to the bench's host server, one way per process, and prints
// {"ms":[…]} (milliseconds per request, request start to the response's end) on stdout.
// Plain JavaScript with node: imports only, so the very same file runs under the sandboxes'
// Node inside a sandbox (written to /workspace through exec) and on the host as the
// baseline. Usage: node client.mjs '{"way":"proxy","port":1234,"count":100,"warmUp":20}'
//   direct           GET http://127.0.0.1:<port>/, a new connection each (host baseline)
//   directKeepAlive  the same over one kept-alive connection
//   proxy            absolute-form GET http://host.outpost.internal:<port>/ to the egress
//                    proxy at 127.0.0.1:3128, a new connection each (what HTTP_PROXY does)
//   proxyKeepAlive   the same over one kept-alive connection to the proxy (which still
//                    checks the policy and dials the host for every request)
//   connect          CONNECT host.outpost.internal:<port>, then one GET in the tunnel, a new
//                    tunnel each (what an HTTPS client does, without the TLS)
//   tunnelKeepAlive  one CONNECT tunnel, every GET in it (the proxy only pipes bytes)
import { Agent, request } from "node:http";

const PROXY = { host: "127.0.0.1", port: 3128 };
const HOST_MACHINE = "host.outpost.internal";
const { way, port, count, warmUp } = JSON.parse(process.argv[2] ?? "{}");
const target = `${HOST_MACHINE}:${port}`;

/** One GET; resolves when the whole response has arrived. */
function get(options) {
  return new Promise((resolve, reject) => {
    const req = request({ path: "/", ...options }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode} ${res.headers["x-outpost-egress"] ?? ""}`));
      res.on("error", reject);
      res.on("end", resolve);
      res.resume();
    });
    req.on("error", reject);
    req.end();
  });
}

/** A CONNECT tunnel through the proxy to the host server. */
function tunnel() {
  return new Promise((resolve, reject) => {
    const req = request({ ...PROXY, method: "CONNECT", path: target, agent: false });
    req.on("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`CONNECT ${target} → ${res.statusCode}`));
        return;
      }
      socket.setNoDelay(true);
      resolve(socket);
    });
    req.on("error", reject);
    req.end();
  });
}

const keepAlive = () => new Agent({ keepAlive: true, maxSockets: 1 });

async function makeRequester() {
  switch (way) {
    case "direct":
      return () => get({ host: "127.0.0.1", port, agent: false, headers: { connection: "close" } });
    case "directKeepAlive": {
      const agent = keepAlive();
      return () => get({ host: "127.0.0.1", port, agent });
    }
    case "proxy":
      return () => get({ ...PROXY, path: `http://${target}/`, agent: false, headers: { host: target, connection: "close" } });
    case "proxyKeepAlive": {
      const agent = keepAlive();
      return () => get({ ...PROXY, path: `http://${target}/`, agent, headers: { host: target } });
    }
    case "connect":
      return async () => {
        const socket = await tunnel();
        try {
          await get({ host: HOST_MACHINE, port, createConnection: () => socket, headers: { connection: "close" } });
        } finally {
          socket.destroy();
        }
      };
    case "tunnelKeepAlive": {
      const socket = await tunnel();
      const agent = keepAlive();
      // The agent's one socket is the tunnel; maxSockets 1 and sequential requests keep it so.
      agent.createConnection = () => socket;
      return () => get({ host: HOST_MACHINE, port, agent });
    }
    default:
      throw new Error(`unknown way '${way}'`);
  }
}

const once = await makeRequester();
const ms = [];
for (let i = 0; i < warmUp + count; i++) {
  const started = performance.now();
  await once();
  if (i >= warmUp) ms.push(Math.round((performance.now() - started) * 1000) / 1000);
}
process.stdout.write(`${JSON.stringify({ ms })}\n`);
// Kept-alive sockets would hold the process open.
process.exit(0);
