// A server that accepts the connection and never answers must not hang the CLI: a JSON
// request gives up after its deadline with a one-line error and exit code 1.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import { runCli, STACK_FRAME } from "./harness.ts";

test("a silent server costs a TIMEOUT error and exit 1, not a hung command", async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const result = await runCli(["project", "list"], { OUTPOST_URL: url, OUTPOST_TOKEN: "opt_x", OUTPOST_REQUEST_TIMEOUT_MS: "300" });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /did not answer within 0\.3 s.*TIMEOUT/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
