// The client's file methods against a scripted supervisor that misbehaves: answers out of
// shape or out of bounds, a read that delivers more or fewer bytes than announced, a
// stream that stalls, an upload the supervisor stops taking. Each costs a registered
// error, never a hang or an unchecked value.
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { describe, test } from "node:test";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { SupervisorTransport, TransportRequest } from "../../src/supervisor/client-transport.ts";
import { FRAME, FRAMES_CONTENT_TYPE, FrameDecoder } from "../../src/supervisor/frames.ts";
import { PROTOCOL_HEADER } from "../../src/supervisor/protocol.ts";

type Chunk = string | Buffer | "stall";

/** Answers every request with `status`, `headers` and the body chunks ("stall": nothing more until the client closes it). */
function scripted(
  chunks: Chunk[],
  options: { status?: number; headers?: Record<string, string> } = {},
): SupervisorTransport & { requests: TransportRequest[] } {
  const requests: TransportRequest[] = [];
  return {
    requests,
    request: async (request) => {
      requests.push(request);
      let closed!: (error: Error) => void;
      const closing = new Promise<never>((_, reject) => {
        closed = reject;
      });
      closing.catch(() => {});
      return {
        status: options.status ?? 200,
        headers: { [PROTOCOL_HEADER]: "2", ...options.headers },
        body: (async function* () {
          for (const chunk of chunks) {
            if (chunk === "stall") await closing;
            yield Buffer.from(chunk);
          }
        })(),
        close: () => closed(new Error("closed by the client")),
      };
    },
  };
}

const entry = { name: "a.txt", type: "file", size: 3, mtime: "2024-05-01T10:00:00.000Z", mode: 420 };
const folder = { path: "/workspace", name: "workspace", type: "dir", size: 4096, mtime: "2024-05-01T10:00:00.000Z", mode: 493, truncated: false };
const contentHeaders = (length: number) => ({
  "content-length": String(length),
  "x-outpost-file-size": "10",
  "x-outpost-file-mtime": "2024-05-01T10:00:00.000Z",
  "x-outpost-file-mode": "420",
});

async function drain(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("the client's file methods", () => {
  test("a folder's entries pass when they fit the protocol, and are refused when they do not", async () => {
    const good = new SupervisorClient({ transport: scripted([JSON.stringify({ ...folder, entries: [entry], extra: "dropped" })]) });
    const info = await good.fileInfo("/workspace");
    assert.deepEqual(info.entries, [entry]);
    assert.equal("extra" in info, false, "unknown fields are dropped");
    for (const [what, bad] of [
      ["a name with a slash", { ...folder, entries: [{ ...entry, name: "../etc/passwd" }] }],
      ["a name of ..", { ...folder, entries: [{ ...entry, name: ".." }] }],
      ["an unknown type", { ...folder, entries: [{ ...entry, type: "device" }] }],
      ["a negative size", { ...folder, entries: [{ ...entry, size: -1 }] }],
      ["mode bits beyond 0o7777", { ...folder, entries: [{ ...entry, mode: 0o17777 }] }],
      ["a relative path", { ...folder, path: "workspace" }],
      ["too many entries", { ...folder, entries: Array.from({ length: 10_001 }, (_, i) => ({ ...entry, name: `f${i}` })) }],
    ] as const) {
      const client = new SupervisorClient({ transport: scripted([JSON.stringify(bad)]) });
      await assert.rejects(client.fileInfo("/workspace"), { code: "SUPERVISOR_BAD_RESPONSE" }, what);
    }
  });

  test("a read yields exactly the bytes announced, or fails", async () => {
    const exact = await new SupervisorClient({ transport: scripted(["hello", "world"], { headers: contentHeaders(10) }) }).readFile("a");
    assert.deepEqual([exact.length, exact.size, exact.mode], [10, 10, 420]);
    assert.equal((await drain(exact.body)).toString(), "helloworld");

    const short = await new SupervisorClient({ transport: scripted(["hello"], { headers: contentHeaders(10) }) }).readFile("a");
    await assert.rejects(drain(short.body), { code: "SUPERVISOR_STREAM_BROKEN" });
    const long = await new SupervisorClient({ transport: scripted(["hello", "world!"], { headers: contentHeaders(10) }) }).readFile("a");
    await assert.rejects(drain(long.body), { code: "SUPERVISOR_BAD_RESPONSE" });
    const headerless = new SupervisorClient({ transport: scripted(["hello"], { headers: { "content-length": "5" } }) });
    await assert.rejects(headerless.readFile("a"), { code: "SUPERVISOR_BAD_RESPONSE" });
    const beyond = new SupervisorClient({ transport: scripted(["x"], { headers: { ...contentHeaders(1), "x-outpost-file-size": "0" } }) });
    await assert.rejects(beyond.readFile("a"), { code: "SUPERVISOR_BAD_RESPONSE" }, "more bytes than the file has");
  });

  test("a download that stalls ends with SUPERVISOR_TIMEOUT; a watch ends when its caller ends it", async () => {
    const stalled = await new SupervisorClient({ transport: scripted(["part", "stall"], { headers: contentHeaders(10) }), answerTimeoutMs: 50 }).readFile("a");
    await assert.rejects(drain(stalled.body), { code: "SUPERVISOR_TIMEOUT" });
    const archive = new SupervisorClient({ transport: scripted(["stall"], { headers: { "content-type": "application/x-tar" } }), answerTimeoutMs: 50 });
    await assert.rejects(drain(await archive.downloadArchive("/workspace")), { code: "SUPERVISOR_TIMEOUT" });
    const notTar = new SupervisorClient({ transport: scripted(["x"], { headers: { "content-type": "text/html" } }) });
    await assert.rejects(notTar.downloadArchive("/workspace"), { code: "SUPERVISOR_BAD_RESPONSE" });

    const abort = new AbortController();
    const watch = new SupervisorClient({
      transport: scripted(['{"type":"ready","path":"/workspace"}\n', "stall"]),
      answerTimeoutMs: 50,
    });
    const lines = (await watch.watchFolder("/workspace", { signal: abort.signal }))[Symbol.asyncIterator]();
    assert.deepEqual((await lines.next()).value, { type: "ready", path: "/workspace" });
    // Nothing changes, so nothing comes: the watch has no deadline of its own, its caller ends it.
    const next = lines.next();
    abort.abort(new Error("done watching"));
    await assert.rejects(next, /done watching/);
  });

  test("watch lines out of shape are refused", async () => {
    for (const line of ['{"type":"changes","changes":[]}', '{"type":"renamed","name":"a"}', '{"type":"changes","changes":[{"name":"a/b","entry":null}]}']) {
      const client = new SupervisorClient({ transport: scripted([`${line}\n`]) });
      const lines = await client.watchFolder("/workspace");
      await assert.rejects(
        (async () => {
          for await (const _ of lines);
        })(),
        { code: "SUPERVISOR_BAD_RESPONSE" },
        line,
      );
    }
  });

  test("an upload goes as stdin frames and one eof frame; a supervisor that stops taking it costs SUPERVISOR_TIMEOUT", async () => {
    const received: Buffer[] = [];
    const answering: SupervisorTransport = {
      request: async () => Promise.reject(new Error("not used")),
      openDuplex: async (request) => {
        assert.equal(request.headers["content-type"], FRAMES_CONTENT_TYPE);
        let answer!: (stream: Duplex) => void;
        const answered = new Promise<Duplex>((resolve) => {
          answer = resolve;
        });
        const stream = new Duplex({
          write(chunk, _encoding, callback) {
            received.push(chunk);
            callback();
          },
          final(callback) {
            stream.push(JSON.stringify({ path: "/workspace/a", ...entry, name: "a", size: 200_000, created: true }));
            stream.push(null);
            answer(stream);
            callback();
          },
          read() {},
        });
        request.first(stream);
        return { status: 200, headers: { [PROTOCOL_HEADER]: "2" }, stream: await answered };
      },
    };
    const body = (async function* () {
      yield Buffer.alloc(150_000, 1);
      yield Buffer.alloc(50_000, 2);
    })();
    const result = await new SupervisorClient({ transport: answering }).writeFile("a", body);
    assert.equal(result.size, 200_000);
    const frames = new FrameDecoder().push(Buffer.concat(received));
    assert.deepEqual(
      frames.map((frame) => [frame.type, frame.payload.length]),
      [
        [FRAME.stdin, 65_536],
        [FRAME.stdin, 65_536],
        [FRAME.stdin, 18_928],
        [FRAME.stdin, 50_000],
        [FRAME.eof, 0],
      ],
    );

    let pulled = 0;
    const stuck: SupervisorTransport = {
      request: async () => Promise.reject(new Error("not used")),
      openDuplex: (request) =>
        new Promise((_, reject) => {
          // Takes nothing: every write waits for a drain that never comes.
          const stream = new Duplex({ highWaterMark: 1, write() {}, read() {} });
          request.signal?.addEventListener("abort", () => reject(request.signal?.reason));
          request.first(stream);
        }),
    };
    const endless = (async function* () {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    })();
    await assert.rejects(new SupervisorClient({ transport: stuck, answerTimeoutMs: 50 }).writeFile("a", endless), { code: "SUPERVISOR_TIMEOUT" });
    assert.ok(pulled < 10, `the source is read only as fast as the supervisor takes it (${pulled} chunks)`);
  });

  test("a refusal answered before the body is sent stops the upload and is thrown as it came", async () => {
    let pulled = 0;
    const refusing: SupervisorTransport = {
      request: async () => Promise.reject(new Error("not used")),
      openDuplex: async (request) => {
        const stream = new Duplex({ highWaterMark: 1, write() {}, read() {} });
        request.first(stream);
        stream.push(JSON.stringify({ error: { code: "PATH_OUTSIDE_SANDBOX", message: "/etc is outside /workspace and /home/outpost." } }));
        stream.push(null);
        return { status: 403, headers: { [PROTOCOL_HEADER]: "2" }, stream };
      },
    };
    const endless = (async function* () {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    })();
    await assert.rejects(new SupervisorClient({ transport: refusing }).uploadArchive("/etc", endless), { code: "PATH_OUTSIDE_SANDBOX", status: 403 });
    assert.ok(pulled < 10, `the rest of the body is not read (${pulled} chunks)`);
  });
});
