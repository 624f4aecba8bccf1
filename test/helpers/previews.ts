// Preview test helpers: HTTP requests with a chosen Host header (fetch forbids setting it),
// the open flow a browser goes through, a minimal WebSocket client, the apps that run in
// the sandboxes, and waiting for a port to listen (through the ports stream, no polling).
import { createHash, randomBytes } from "node:crypto";
import { type IncomingHttpHeaders, type IncomingMessage, request } from "node:http";
import type { Duplex } from "node:stream";
import { api } from "./server.ts";
import { collectSse } from "./sse.ts";

type Server = { url: string; token: string };

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
}

/** One request to the control plane's address with the Host header set (a preview's, or any). */
export function hostRequest(
  serverUrl: string,
  options: { host: string; path?: string; method?: string; headers?: Record<string, string>; body?: Buffer | string; signal?: AbortSignal },
): Promise<RawResponse> {
  const url = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? "GET",
        path: options.path ?? "/",
        headers: { host: options.host, ...options.headers },
        agent: false,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8"), json: () => JSON.parse(body.toString("utf8")) });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** `3000-shop-abc123.localhost:7300` for the control plane at `serverUrl`. */
export function previewHost(serverUrl: string, sandbox: string, port: number): string {
  return `${port}-${sandbox}.localhost:${new URL(serverUrl).port}`;
}

/** The `name=value` part of a Set-Cookie header. */
export function cookiePair(setCookie: string | string[] | undefined): string {
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  if (!first) throw new Error("no Set-Cookie in the answer");
  return first.split(";", 1)[0] as string;
}

/**
 * The open flow as a browser goes through it: the API's open route (here with a bearer
 * token; a browser sends its session cookie) answers 303 to the preview's sign-in URL,
 * which answers 303 with the preview's cookie. Returns that cookie (`outpost_preview=…`).
 */
export async function openPreview(s: Server, sandbox: { id: string; name: string }, port: number, token = s.token): Promise<{ cookie: string; host: string }> {
  const open = await api(s, "GET", `/api/v1/sandboxes/${sandbox.id}/previews/${port}/open`, { token });
  if (open.status !== 303) throw new Error(`open answered ${open.status}: ${JSON.stringify(open.body)}`);
  const location = new URL(open.headers.get("location") ?? "");
  const host = previewHost(s.url, sandbox.name, port);
  if (location.host !== host) throw new Error(`open redirected to ${location.host}, not ${host}`);
  const login = await hostRequest(s.url, { host, path: `${location.pathname}${location.search}` });
  if (login.status !== 303) throw new Error(`preview sign-in answered ${login.status}: ${login.text}`);
  return { cookie: cookiePair(login.headers["set-cookie"]), host };
}

/** Starts a background process in the sandbox and waits (on the ports stream) until `port` listens. */
export async function serve(s: Server, sandboxId: string, command: string | string[], port: number): Promise<{ processId: string }> {
  const started = await api(s, "POST", `/api/v1/sandboxes/${sandboxId}/processes`, { body: { command } });
  if (started.status !== 201) throw new Error(`starting ${JSON.stringify(command)} failed: ${JSON.stringify(started.body)}`);
  await waitForPort(s, sandboxId, port);
  return { processId: started.body.id };
}

/** The ports stream's events until one lists `port`; returns that list. */
export async function waitForPort(s: Server, sandboxId: string, port: number): Promise<any[]> {
  const events = await collectSse(`${s.url}/api/v1/sandboxes/${sandboxId}/ports?follow=true`, {
    token: s.token,
    until: (seen) => seen.some((e) => e.event === "error" || (e.event === "ports" && e.data.items.some((p: any) => p.port === port))),
  });
  const last = events.at(-1);
  if (last?.event !== "ports") throw new Error(`the ports stream failed: ${JSON.stringify(last?.data)}`);
  return last.data.items;
}

/** A minimal WebSocket client (text frames), enough to prove bytes go both ways through the proxy. */
export interface TestWebSocket {
  send(text: string): void;
  /** The next text frame from the server. */
  next(): Promise<string>;
  close(): void;
  /** Resolves when the connection has closed (from either end). */
  closed: Promise<void>;
  response: IncomingMessage;
}

export function openWebSocket(serverUrl: string, host: string, path: string, headers: Record<string, string> = {}): Promise<TestWebSocket> {
  const url = new URL(serverUrl);
  const key = randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path,
      agent: false,
      headers: { host, connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": key, "sec-websocket-version": "13", ...headers },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => reject(Object.assign(new Error(`no upgrade: ${res.statusCode} ${Buffer.concat(chunks).toString()}`), { status: res.statusCode })));
    });
    req.on("upgrade", (res, socket: Duplex, head: Buffer) => {
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      if (res.headers["sec-websocket-accept"] !== accept) return reject(new Error("bad Sec-WebSocket-Accept"));
      let buffer = head;
      const frames: string[] = [];
      const waiting: ((text: string) => void)[] = [];
      socket.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (let frame = readFrame(buffer); frame; frame = readFrame(buffer)) {
          buffer = buffer.subarray(frame.size);
          const text = frame.payload.toString("utf8");
          const waiter = waiting.shift();
          if (waiter) waiter(text);
          else frames.push(text);
        }
      });
      socket.on("error", () => {});
      const closed = new Promise<void>((resolveClosed) => socket.once("close", () => resolveClosed()));
      resolve({
        response: res,
        closed,
        send: (text) => socket.write(maskedFrame(Buffer.from(text))),
        next: () =>
          new Promise((resolveNext, rejectNext) => {
            const ready = frames.shift();
            if (ready !== undefined) return resolveNext(ready);
            waiting.push(resolveNext);
            socket.once("close", () => rejectNext(new Error("the WebSocket closed")));
          }),
        close: () => socket.destroy(),
      });
    });
    req.end();
  });
}

function maskedFrame(payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, masked]);
}

/** An unmasked frame from a server (payloads under 64 KiB), or null until it is whole. */
function readFrame(buffer: Buffer): { payload: Buffer; size: number } | null {
  if (buffer.length < 2) return null;
  let length = (buffer[1] as number) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  }
  if (buffer.length < offset + length) return null;
  return { payload: buffer.subarray(offset, offset + length), size: offset + length };
}

/**
 * An app for the sandbox (run by /opt/outpost/bin/node): answers every request with what it
 * received as JSON (method, url, headers, body length and sha256), streams `?bytes=N` of
 * output on /big, never answers /silent, and echoes WebSocket text frames on any upgrade.
 * Argument: port and a tag that each answer carries.
 */
export const ECHO_APP = `
import { createServer } from "node:http";
import { createHash } from "node:crypto";
const [port, tag] = process.argv.slice(2);
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://app");
  if (url.pathname === "/silent") return;
  if (url.pathname === "/big") {
    let left = Number(url.searchParams.get("bytes"));
    const chunk = Buffer.alloc(64 * 1024, 97);
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const write = () => {
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        left -= part.length;
        if (!res.write(part)) return res.once("drain", write);
      }
      res.end();
    };
    return write();
  }
  const hash = createHash("sha256");
  let length = 0;
  req.on("data", (c) => { hash.update(c); length += c.length; });
  req.on("end", () => {
    const body = JSON.stringify({ tag, method: req.method, url: req.url, headers: req.headers, length, sha256: hash.digest("hex") });
    res.writeHead(200, { "content-type": "application/json", "set-cookie": "app_cookie=" + tag + "; Path=/", "x-app": tag, "keep-alive": "timeout=5" });
    res.end(body);
  });
});
server.on("upgrade", (req, socket, head) => {
  const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + "\\r\\nX-App: " + tag + "\\r\\n\\r\\n");
  let buffer = head;
  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f, offset = 2;
      if (length === 126) { if (buffer.length < 4) return; length = buffer.readUInt16BE(2); offset = 4; }
      if (buffer.length < offset + 4 + length) return;
      const mask = buffer.subarray(offset, offset + 4);
      const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length).map((b, i) => b ^ mask[i % 4]));
      buffer = buffer.subarray(offset + 4 + length);
      if (opcode === 8) return socket.end();
      const reply = Buffer.from(tag + " echo: " + payload.toString());
      socket.write(Buffer.concat([reply.length < 126 ? Buffer.from([0x81, reply.length]) : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 255]), reply]));
    }
  });
  socket.on("error", () => {});
});
server.listen(Number(port), "127.0.0.1");
`;

/** Answers every connection with bytes that are not HTTP, then closes it. */
export const GARBAGE_APP = `
import { createServer } from "node:net";
createServer((socket) => { socket.on("error", () => {}); socket.end("THIS IS NOT HTTP\\r\\n\\r\\n"); }).listen(Number(process.argv[2]), "127.0.0.1");
`;
