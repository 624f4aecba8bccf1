// `outpost project create` is safe on a flaky connection: the CLI sends an Idempotency-Key
// and, when the connection drops before any answer, retries once with the same key. A proxy
// on 127.0.0.1 plays the flaky network: it delivers the first create to the server, then
// cuts the client's connection before the answer arrives.
import assert from "node:assert/strict";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { type OutpostServer, runCli, startOutpost } from "./harness.ts";

let server: OutpostServer;
before(async () => {
  server = await startOutpost();
});
after(async () => server?.stop());

test("a create whose answer was lost is retried with the same key: one project, and the CLI reports it", async () => {
  const upstream = new URL(server.url);
  const keys: string[] = [];
  let cut = false;
  const proxy = createHttpServer((req, res) => {
    if (req.method === "POST") keys.push(String(req.headers["idempotency-key"]));
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (req.method === "POST" && !cut) {
        // The server made the project; the client never hears of it.
        cut = true;
        answer.resume();
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const result = await runCli(["project", "create", "flaky", "--json"], { OUTPOST_URL: proxyUrl, OUTPOST_TOKEN: server.token });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).name, "flaky");
    assert.equal(keys.length, 2, "one retry");
    assert.equal(keys[0], keys[1], "with the same Idempotency-Key");
    assert.match(keys[0] ?? "", /^[0-9a-f-]{36}$/);
    const list = await runCli(["project", "list", "--json"], server.cliEnv);
    assert.equal(JSON.parse(list.stdout).items.filter((p: { name: string }) => p.name === "flaky").length, 1);
  } finally {
    proxy.close();
  }
});
