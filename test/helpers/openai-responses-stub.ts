// A scriptable stand-in for the OpenAI Responses API, for tests that run the real Codex CLI:
// real HTTP on 127.0.0.1 and real SSE, event by event, as api.openai.com streams it.
//   POST /v1/responses   (also under any prefix, e.g. /openai/v1/responses behind a gateway)
//   GET  /v1/models      an empty list (Codex asks for it; nothing depends on the answer)
// A test queues turns; each POST takes the next one (an empty queue answers "Done."), so the
// test decides which tools the agent calls and in what order. `{ shell }` adapts to whichever
// shell tool the client offered in `tools` (Codex names and shapes it per model family), so a
// test says what to run, not how this Codex version spells it. A turn can also fail with an
// HTTP status, end with `response.failed`, or hang (for stall detection).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ResponsesItem =
  | { text: string }
  | { reasoning: string }
  /** Runs `shell` through the client's own shell tool, whatever it is called. */
  | { shell: string }
  /** A function tool call with JSON arguments. */
  | { tool: string; arguments: Record<string, unknown> }
  /** A free-form ("custom") tool call, e.g. Codex's apply_patch with a patch as input. */
  | { customTool: string; input: string };

export interface ResponsesUsage {
  input: number;
  output: number;
  cacheRead?: number;
  reasoning?: number;
}

export type ResponsesTurn =
  | { items: ResponsesItem[]; usage?: ResponsesUsage }
  | { status: number; message: string }
  /** HTTP 200, then `response.failed` with this error. */
  | { failed: { code: string; message: string } }
  | { hang: true }
  /** Waits for `gate`, then plays `then`. */
  | { gate: Promise<void>; then: ResponsesTurn };

export interface RecordedResponsesRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface OpenAiResponsesStub {
  /** `http://127.0.0.1:<port>`; clients want `${url}/v1` as their base URL. */
  url: string;
  requests: RecordedResponsesRequest[];
  queue(...turns: ResponsesTurn[]): void;
  /** Resolves when the n-th POST /responses (1-based) has arrived. */
  waitForRequest(n: number): Promise<RecordedResponsesRequest>;
  close(): Promise<void>;
}

const DEFAULT_USAGE: ResponsesUsage = { input: 120, output: 30, cacheRead: 0, reasoning: 0 };

export async function startOpenAiResponsesStub(): Promise<OpenAiResponsesStub> {
  const requests: RecordedResponsesRequest[] = [];
  const turns: ResponsesTurn[] = [];
  const waiters: { n: number; resolve: (r: RecordedResponsesRequest) => void }[] = [];
  const hanging = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET" && path.endsWith("/models")) return json(res, 200, { object: "list", data: [], models: [] });
    if (req.method !== "POST" || !path.endsWith("/responses")) return json(res, 404, openAiError("not_found", `no route ${req.method} ${path}`));
    if (req.headers.authorization === undefined) return json(res, 401, openAiError("invalid_api_key", "You didn't provide an API key."));
    const body = JSON.parse(text);
    const recorded = { path, headers: { ...req.headers }, body };
    requests.push(recorded);
    for (const waiter of waiters.filter((w) => w.n <= requests.length)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(requests[waiter.n - 1]!);
    }
    await play(res, turns.shift() ?? { items: [{ text: "Done." }] }, body);
  };

  const play = async (res: ServerResponse, turn: ResponsesTurn, body: any): Promise<void> => {
    if ("gate" in turn) {
      await turn.gate;
      return play(res, turn.then, body);
    }
    if ("status" in turn) return json(res, turn.status, openAiError(turn.status >= 500 ? "server_error" : "invalid_request_error", turn.message));
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.socket?.setNoDelay(true);
    const stream = new ResponseStream(res, body);
    await stream.send("response.created", { response: stream.response("in_progress", []) });
    await stream.send("response.in_progress", { response: stream.response("in_progress", []) });
    if ("hang" in turn) {
      hanging.add(res);
      return;
    }
    if ("failed" in turn) {
      await stream.send("response.failed", { response: { ...stream.response("failed", []), error: turn.failed } });
      res.end();
      return;
    }
    const output: unknown[] = [];
    for (const item of turn.items) output.push(await stream.item(item, toolsOf(body)));
    const usage = { ...DEFAULT_USAGE, ...turn.usage };
    await stream.send("response.completed", { response: { ...stream.response("completed", output), usage: responsesUsage(usage) } });
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, openAiError("server_error", String(error)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queue: (...next) => turns.push(...next),
    waitForRequest: (n) => (requests.length >= n ? Promise.resolve(requests[n - 1]!) : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const res of hanging) res.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** One streamed response: numbers its events and builds the output items as OpenAI does. */
class ResponseStream {
  readonly id = `resp_${hex()}`;
  private sequence = 0;
  private outputIndex = 0;
  private readonly createdAt = Math.floor(Date.now() / 1000);

  constructor(
    private readonly res: ServerResponse,
    private readonly body: any,
  ) {}

  response(status: string, output: unknown[]) {
    return {
      id: this.id,
      object: "response",
      created_at: this.createdAt,
      status,
      model: typeof this.body?.model === "string" ? this.body.model : "gpt-stub",
      output,
      usage: null,
      error: null,
    };
  }

  send(type: string, fields: Record<string, unknown>): Promise<void> {
    const data = JSON.stringify({ type, sequence_number: this.sequence++, ...fields });
    return new Promise((resolve, reject) => this.res.write(`event: ${type}\ndata: ${data}\n\n`, (error) => (error ? reject(error) : resolve())));
  }

  /** Streams one output item (added, its deltas, done) and returns the finished item. */
  async item(item: ResponsesItem, tools: OfferedTool[]): Promise<unknown> {
    const output_index = this.outputIndex++;
    if ("text" in item) {
      const id = `msg_${hex()}`;
      const done = { id, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: item.text, annotations: [] }] };
      await this.send("response.output_item.added", { output_index, item: { ...done, status: "in_progress", content: [] } });
      await this.send("response.content_part.added", { item_id: id, output_index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
      // In pieces, so the client's streaming path runs.
      for (const delta of pieces(item.text)) await this.send("response.output_text.delta", { item_id: id, output_index, content_index: 0, delta });
      await this.send("response.output_text.done", { item_id: id, output_index, content_index: 0, text: item.text });
      await this.send("response.content_part.done", { item_id: id, output_index, content_index: 0, part: done.content[0] });
      await this.send("response.output_item.done", { output_index, item: done });
      return done;
    }
    if ("reasoning" in item) {
      const id = `rs_${hex()}`;
      const done = { id, type: "reasoning", summary: [{ type: "summary_text", text: item.reasoning }] };
      await this.send("response.output_item.added", { output_index, item: { ...done, summary: [] } });
      await this.send("response.reasoning_summary_part.added", { item_id: id, output_index, summary_index: 0, part: { type: "summary_text", text: "" } });
      for (const delta of pieces(item.reasoning)) {
        await this.send("response.reasoning_summary_text.delta", { item_id: id, output_index, summary_index: 0, delta });
      }
      await this.send("response.reasoning_summary_text.done", { item_id: id, output_index, summary_index: 0, text: item.reasoning });
      await this.send("response.reasoning_summary_part.done", { item_id: id, output_index, summary_index: 0, part: done.summary[0] });
      await this.send("response.output_item.done", { output_index, item: done });
      return done;
    }
    if ("customTool" in item) {
      const id = `ctc_${hex()}`;
      const done = { id, type: "custom_tool_call", status: "completed", call_id: `call_${hex()}`, name: item.customTool, input: item.input };
      await this.send("response.output_item.added", { output_index, item: { ...done, status: "in_progress", input: "" } });
      await this.send("response.custom_tool_call_input.delta", { item_id: id, output_index, delta: item.input });
      await this.send("response.custom_tool_call_input.done", { item_id: id, output_index, input: item.input });
      await this.send("response.output_item.done", { output_index, item: done });
      return done;
    }
    const { name, args } = "shell" in item ? shellCall(item.shell, tools) : { name: item.tool, args: item.arguments };
    const id = `fc_${hex()}`;
    const argumentsText = JSON.stringify(args);
    const done = { id, type: "function_call", status: "completed", call_id: `call_${hex()}`, name, arguments: argumentsText };
    await this.send("response.output_item.added", { output_index, item: { ...done, status: "in_progress", arguments: "" } });
    await this.send("response.function_call_arguments.delta", { item_id: id, output_index, delta: argumentsText });
    await this.send("response.function_call_arguments.done", { item_id: id, output_index, arguments: argumentsText });
    await this.send("response.output_item.done", { output_index, item: done });
    return done;
  }
}

interface OfferedTool {
  name: string;
  properties: Record<string, { type?: string }>;
}

function toolsOf(body: any): OfferedTool[] {
  if (!Array.isArray(body?.tools)) return [];
  return body.tools
    .filter((tool: any) => tool?.type === "function" && typeof tool.name === "string")
    .map((tool: any) => ({ name: tool.name, properties: tool.parameters?.properties ?? {} }));
}

/** The shell tools Codex has offered over its versions, most recent first, and how each takes a command. */
const SHELL_TOOLS: { name: string; args: (command: string, tool: OfferedTool) => Record<string, unknown> }[] = [
  { name: "exec_command", args: (cmd) => ({ cmd }) },
  { name: "shell_command", args: (command) => ({ command }) },
  {
    name: "shell",
    args: (command, tool) => ({ command: tool.properties["command"]?.type === "string" ? command : ["bash", "-lc", command] }),
  },
];

function shellCall(command: string, tools: OfferedTool[]): { name: string; args: Record<string, unknown> } {
  for (const candidate of SHELL_TOOLS) {
    const tool = tools.find((t) => t.name === candidate.name);
    if (tool) return { name: tool.name, args: candidate.args(command, tool) };
  }
  throw new Error(`the client offered no shell tool (tools: ${tools.map((t) => t.name).join(", ") || "none"})`);
}

function responsesUsage(usage: ResponsesUsage) {
  const cached = usage.cacheRead ?? 0;
  return {
    input_tokens: usage.input + cached,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
    total_tokens: usage.input + cached + usage.output,
  };
}

function pieces(text: string): string[] {
  return text.match(/.{1,12}/gs) ?? [""];
}

function hex(): string {
  return randomUUID().replaceAll("-", "");
}

function openAiError(code: string, message: string) {
  return { error: { message, type: code === "invalid_api_key" ? "invalid_request_error" : code, param: null, code } };
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
