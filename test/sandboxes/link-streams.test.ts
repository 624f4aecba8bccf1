// Streams both ways through the supervisor link, end to end with the real bubblewrap
// sandbox and the real supervisor: a pseudo-terminal (bytes in, bytes out, resize) and a
// raw TCP tunnel to a port inside the sandbox. The terminal and preview UIs build on these.
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { test } from "node:test";
import { builtOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import type { PtySession } from "../../src/supervisor/client.ts";
import { ensureOptions, specFor, testBed } from "../drivers/helpers.ts";

/** Reads a PTY's output until `pattern` shows up (bounded by the test's own timeout). */
async function readUntil(events: AsyncIterator<{ type: string; data?: unknown }>, pattern: RegExp, seen = { text: "" }): Promise<string> {
  while (!pattern.test(seen.text)) {
    const next = await events.next();
    if (next.done) throw new Error(`the terminal ended before ${pattern}; it showed:\n${seen.text}`);
    if (next.value.type === "stdout") seen.text += (next.value.data as Buffer).toString("utf8");
    if (next.value.type === "exit") throw new Error(`the terminal exited before ${pattern}; it showed:\n${seen.text}`);
  }
  return seen.text;
}

async function readAll(stream: Duplex): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

test("a terminal in the sandbox: typed input runs, output comes back, resize reaches the tty, exit ends it", async (t) => {
  const { driver } = testBed(t, { outpostDir: builtOutpostDir() });
  const handle = await driver.ensure(specFor("pty-box"), ensureOptions());
  const pty: PtySession = await handle.link.client.pty({ command: ["/bin/sh"], cols: 80, rows: 24 }, { signal: AbortSignal.timeout(60_000) });
  const events = pty.events[Symbol.asyncIterator]();
  const first = await events.next();
  assert.equal(first.value?.type, "started");

  const seen = { text: "" };
  pty.write("stty size; tty; echo done-$((40+2))\n");
  const output = await readUntil(events, /done-42/, seen);
  assert.match(output, /24 80/, "the terminal has the size it was opened with");
  assert.match(output, /\/dev\/pts\/\d+/, "the shell runs on a real pseudo-terminal");

  pty.resize(120, 40);
  pty.write("stty size; echo resized-$((1+1))\n");
  assert.match(await readUntil(events, /resized-2/, seen), /40 120/);

  pty.write("exit 3\n");
  let exit: { type: string; exitCode?: number | null } | undefined;
  for (let next = await events.next(); !next.done; next = await events.next()) if (next.value.type === "exit") exit = next.value as typeof exit;
  assert.equal(exit?.exitCode, 3);
});

test("a tunnel carries raw bytes both ways to a port inside the sandbox; a closed port is PORT_NOT_LISTENING", async (t) => {
  const { driver } = testBed(t, { outpostDir: builtOutpostDir() });
  const handle = await driver.ensure(specFor("tunnel-box"), ensureOptions());
  const { client } = handle.link;
  const server = "require('http').createServer((q,s)=>s.end('hello from '+require('os').hostname()+' '+q.url)).listen(8080,()=>console.log('listening'))";
  const started = await client.startProcess({ command: ["/opt/outpost/bin/node", "-e", server], name: "web" });
  for await (const line of await client.processLogs(started.id, { follow: true, signal: AbortSignal.timeout(30_000) })) {
    if ("seq" in line && Buffer.from(line.data, "base64").toString().includes("listening")) break;
  }

  const tunnel = await client.tunnel(8080, { signal: AbortSignal.timeout(30_000) });
  tunnel.end("GET /through-the-link HTTP/1.1\r\nHost: preview\r\nConnection: close\r\n\r\n");
  const response = await readAll(tunnel);
  assert.match(response, /^HTTP\/1\.1 200 OK/);
  assert.match(response, /hello from tunnel-box \/through-the-link$/);

  await assert.rejects(client.tunnel(8081), { code: "PORT_NOT_LISTENING", status: 502 });
  await client.signalProcess(started.id, "SIGTERM");
});
