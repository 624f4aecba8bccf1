// The client's NDJSON parsing against a scripted transport: lines split anywhere, shape
// checks, bounded line buffering, and SUPERVISOR_STREAM_BROKEN when a stream ends (or is
// cut) before its final line.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { SupervisorTransport } from "../../src/supervisor/client-transport.ts";
import { PROTOCOL_HEADER } from "../../src/supervisor/protocol.ts";

/** A transport answering every request with `status` and the given body chunks. */
function scripted(chunks: (string | Error)[], status = 200): SupervisorTransport & { closed: number } {
  const transport = {
    closed: 0,
    request: async () => ({
      status,
      headers: { [PROTOCOL_HEADER]: "2" },
      body: (async function* () {
        for (const chunk of chunks) {
          if (chunk instanceof Error) throw chunk;
          yield Buffer.from(chunk);
        }
      })(),
      close: () => {
        transport.closed++;
      },
    }),
  };
  return transport;
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const STARTED = '{"type":"started","pid":12}\n';
const OUT = '{"type":"stdout","data":"aGk="}\n';
const EXIT = '{"type":"exit","exitCode":0,"signal":null,"timedOut":false,"durationMs":3}\n';

describe("client streams", () => {
  test("lines split at any byte boundary are reassembled", async () => {
    const text = STARTED + OUT + EXIT;
    const transport = scripted([...text]);
    const events = await drain(await new SupervisorClient({ transport }).exec({ command: "x" }));
    assert.deepEqual(
      events.map((event) => event.type),
      ["started", "stdout", "exit"],
    );
    assert.equal(transport.closed, 1, "the connection is released once the exit line arrived");
  });

  test("an exec stream that ends without its exit line is SUPERVISOR_STREAM_BROKEN", async () => {
    const client = new SupervisorClient({ transport: scripted([STARTED, OUT]) });
    await assert.rejects(drain(await client.exec({ command: "x" })), { code: "SUPERVISOR_STREAM_BROKEN" });
  });

  test("a connection cut mid-stream is SUPERVISOR_STREAM_BROKEN", async () => {
    const client = new SupervisorClient({ transport: scripted([STARTED, Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })]) });
    await assert.rejects(drain(await client.exec({ command: "x" })), { code: "SUPERVISOR_STREAM_BROKEN", message: /hang up/ });
  });

  test("a followed log that ends without exit is broken; an end line completes a non-follow answer", async () => {
    const record = '{"seq":1,"stream":"stdout","data":"aGk=","ts":"2024-01-01T00:00:00.000Z"}\n';
    await assert.rejects(drain(await new SupervisorClient({ transport: scripted([record]) }).processLogs("prc_000000000000", { follow: true })), {
      code: "SUPERVISOR_STREAM_BROKEN",
    });
    const items = await drain(await new SupervisorClient({ transport: scripted([record, '{"type":"end"}\n']) }).processLogs("prc_000000000000"));
    assert.deepEqual(
      items.map((item) => ("seq" in item ? item.seq : item.type)),
      [1],
    );
  });

  test("a line of the wrong shape or not JSON is SUPERVISOR_BAD_RESPONSE", async () => {
    for (const bad of ['{"type":"stdout","data":5}\n', '{"type":"surprise"}\n', "not json\n"]) {
      const client = new SupervisorClient({ transport: scripted([STARTED, bad, EXIT]) });
      await assert.rejects(drain(await client.exec({ command: "x" })), { code: "SUPERVISOR_BAD_RESPONSE" }, bad);
    }
  });

  test("a line that never ends is refused once it passes the bound instead of being buffered", async () => {
    const chunk = "x".repeat(1024 * 1024);
    let sent = 0;
    const endless: SupervisorTransport = {
      request: async () => ({
        status: 200,
        headers: { [PROTOCOL_HEADER]: "2" },
        body: (async function* () {
          for (;;) {
            sent += chunk.length;
            yield Buffer.from(chunk);
          }
        })(),
        close: () => {},
      }),
    };
    await assert.rejects(drain(await new SupervisorClient({ transport: endless }).exec({ command: "x" })), {
      code: "SUPERVISOR_BAD_RESPONSE",
      message: /longer than/,
    });
    assert.ok(sent <= 8 * 1024 * 1024, `read ${sent} bytes before refusing`);
  });

  test("an error answer becomes a SupervisorClientError with the daemon's code, message and status", async () => {
    const client = new SupervisorClient({ transport: scripted(['{"error":{"code":"COMMAND_NOT_FOUND","message":"Command not found: x"}}'], 422) });
    await assert.rejects(client.exec({ command: ["x"] }), { code: "COMMAND_NOT_FOUND", status: 422, message: "Command not found: x" });
  });
});
