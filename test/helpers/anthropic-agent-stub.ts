// A scriptable stand-in for the Anthropic Messages API, for tests that run the real Claude
// Code CLI: real HTTP on 127.0.0.1 and real SSE streaming, as api.anthropic.com sends it.
// A test queues turns; each POST /v1/messages takes the next one (an empty queue answers
// "Done."), so a test decides which tools the agent calls and in what order. A turn can
// also hang (to test stall detection) or fail with an HTTP status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type StubBlock = { text: string } | { thinking: string } | { tool: string; input: Record<string, unknown> };
export type StubTurn =
  | { blocks: StubBlock[]; usage?: { input: number; output: number } }
  | { hang: true }
  | { status: number; message: string }
  /** Waits until the gate opens, then streams `next`. */
  | { gate: Promise<void>; next: StubTurn };

export interface RecordedMessagesRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface AnthropicAgentStub {
  url: string;
  requests: RecordedMessagesRequest[];
  queue(...turns: StubTurn[]): void;
  /** Resolves when the n-th request (1-based) has arrived. */
  waitForRequest(n: number): Promise<RecordedMessagesRequest>;
  close(): Promise<void>;
}

export async function startAnthropicAgentStub(): Promise<AnthropicAgentStub> {
  const requests: RecordedMessagesRequest[] = [];
  const turns: StubTurn[] = [];
  const waiters: { n: number; resolve: (r: RecordedMessagesRequest) => void }[] = [];
  const hanging = new Set<ServerResponse>();
  let counter = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const path = req.url ?? "/";
    if (req.method !== "POST" || !path.startsWith("/v1/messages")) return json(res, 404, error("not_found_error", `no route ${req.method} ${path}`));
    if (path.startsWith("/v1/messages/count_tokens")) return json(res, 200, { input_tokens: 100 });
    if (req.headers["x-api-key"] === undefined && req.headers.authorization === undefined) {
      return json(res, 401, error("authentication_error", "x-api-key header is required"));
    }
    const body = JSON.parse(text);
    const recorded = { path, headers: { ...req.headers }, body };
    requests.push(recorded);
    for (const waiter of waiters.filter((w) => w.n <= requests.length)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(requests[waiter.n - 1]!);
    }
    await play(res, turns.shift() ?? { blocks: [{ text: "Done." }] }, body);
  };

  const play = async (res: ServerResponse, turn: StubTurn, body: any): Promise<void> => {
    if ("gate" in turn) {
      await turn.gate;
      return play(res, turn.next, body);
    }
    if ("hang" in turn) {
      // Headers and the first event go out, then nothing: an agent that waits forever.
      hanging.add(res);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(sse("message_start", { type: "message_start", message: message(body, 0) }));
      return;
    }
    if ("status" in turn) return json(res, turn.status, error(turn.status === 529 ? "overloaded_error" : "api_error", turn.message));
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.socket?.setNoDelay(true);
    const usage = turn.usage ?? { input: 100, output: 20 };
    await write(
      res,
      sse("message_start", { type: "message_start", message: { ...message(body, usage.input), usage: { input_tokens: usage.input, output_tokens: 1 } } }),
    );
    let stop = "end_turn";
    for (const [index, block] of turn.blocks.entries()) {
      if ("text" in block) {
        await write(res, sse("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
        // Streamed in pieces, so the CLI's partial messages have something to show.
        for (const piece of block.text.match(/.{1,12}/gs) ?? [""]) {
          await write(res, sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } }));
        }
      } else if ("thinking" in block) {
        await write(res, sse("content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
        await write(res, sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: block.thinking } }));
        await write(res, sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: "c3R1Yg==" } }));
      } else {
        stop = "tool_use";
        const id = `toolu_stub_${++counter}`;
        await write(
          res,
          sse("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id, name: block.tool, input: {} } }),
        );
        await write(
          res,
          sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } }),
        );
      }
      await write(res, sse("content_block_stop", { type: "content_block_stop", index }));
    }
    await write(
      res,
      sse("message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } }),
    );
    await write(res, sse("message_stop", { type: "message_stop" }));
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, error("api_error", String(err)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queue: (...more) => turns.push(...more),
    waitForRequest: (n) => (requests.length >= n ? Promise.resolve(requests[n - 1]!) : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A gate for `{ gate, next }` turns: the turn streams once `open()` is called. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function message(body: any, inputTokens: number) {
  return {
    id: `msg_stub_${Math.random().toString(36).slice(2, 10)}`,
    type: "message",
    role: "assistant",
    model: body?.model ?? "claude-stub",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: 0 },
  };
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const error = (type: string, message: string) => ({ type: "error", error: { type, message } });

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Each event is handed to the kernel before the next, so the client sees a stream. */
function write(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
}
