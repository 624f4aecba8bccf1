// A scriptable stand-in for the Gemini API (generativelanguage.googleapis.com), for tests that
// run the real Gemini CLI: real HTTP on 127.0.0.1 and real SSE, chunk by chunk.
//   POST /v1beta/models/<model>:streamGenerateContent?alt=sse   takes the next queued turn
//   POST /v1beta/models/<model>:generateContent                  the CLI's side questions
//   POST /v1beta/models/<model>:countTokens                      a fixed count
// (any prefix before /v1beta is accepted, e.g. a gateway's /gemini). A test queues turns;
// each streamed call takes the next one (an empty queue answers "Done."). The CLI's side
// questions (which model to route to, is the conversation looping, …) get a neutral JSON
// answer and do not use up the queue.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type GeminiPart = { text: string } | { thought: string } | { call: string; args: Record<string, unknown> };

export type GeminiTurn =
  | { parts: GeminiPart[]; usage?: { input: number; output: number; cached?: number; thoughts?: number } }
  | { status: number; message: string };

export interface RecordedGeminiRequest {
  method: string;
  /** Path and query, e.g. /v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface GeminiStub {
  /** `http://127.0.0.1:<port>`: the CLI's GOOGLE_GEMINI_BASE_URL. */
  url: string;
  /** Every request, side questions included. */
  requests: RecordedGeminiRequest[];
  /** The streamed calls only: one per model round trip of the agent. */
  turns(): RecordedGeminiRequest[];
  queue(...turns: GeminiTurn[]): void;
  close(): Promise<void>;
}

export async function startGeminiStub(): Promise<GeminiStub> {
  const requests: RecordedGeminiRequest[] = [];
  const queued: GeminiTurn[] = [];
  const isStream = (r: RecordedGeminiRequest) => r.url.includes(":streamGenerateContent");

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const url = req.url ?? "/";
    const body = text ? JSON.parse(text) : null;
    const recorded = { method: req.method ?? "", url, headers: { ...req.headers }, body };
    requests.push(recorded);
    const method = /\/v1beta\/models\/([^:/?]+):(\w+)/.exec(url);
    if (req.method !== "POST" || !method) return json(res, 404, googleError(404, `no route ${req.method} ${url}`, "NOT_FOUND"));
    if (req.headers["x-goog-api-key"] === undefined && !new URL(url, "http://x").searchParams.has("key")) {
      return json(res, 401, googleError(401, "API key not valid. Please pass a valid API key.", "UNAUTHENTICATED"));
    }
    const [, model, verb] = method;
    if (verb === "countTokens") return json(res, 200, { totalTokens: 100 });
    if (verb === "generateContent") return json(res, 200, response(model!, sideAnswer(body), { input: 50, output: 10 }));
    if (verb !== "streamGenerateContent") return json(res, 404, googleError(404, `unknown method ${verb}`, "NOT_FOUND"));
    const turn = queued.shift() ?? { parts: [{ text: "Done." }] };
    if ("status" in turn) return json(res, turn.status, googleError(turn.status, turn.message, turn.status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT"));
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.socket?.setNoDelay(true);
    const usage = turn.usage ?? { input: 200, output: 20 };
    // One chunk per part (text in pieces), the last one with the finish reason and usage,
    // as the API streams.
    const chunks: unknown[][] = [];
    for (const part of turn.parts) {
      if ("text" in part) for (const piece of part.text.match(/.{1,12}/gs) ?? [""]) chunks.push([{ text: piece }]);
      else if ("thought" in part) chunks.push([{ text: part.thought, thought: true }]);
      else chunks.push([{ functionCall: { name: part.call, args: part.args } }]);
    }
    for (const [index, parts] of chunks.entries()) {
      const last = index === chunks.length - 1;
      await write(res, `data: ${JSON.stringify(response(model!, parts, usage, last ? "STOP" : undefined))}\r\n\r\n`);
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, googleError(500, String(error), "INTERNAL"));
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
    turns: () => requests.filter(isStream),
    queue: (...turns) => queued.push(...turns),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function response(model: string, parts: unknown[], usage: { input: number; output: number; cached?: number; thoughts?: number }, finishReason?: string) {
  return {
    candidates: [{ content: { role: "model", parts }, index: 0, ...(finishReason ? { finishReason } : {}) }],
    usageMetadata: {
      promptTokenCount: usage.input + (usage.cached ?? 0),
      candidatesTokenCount: usage.output,
      totalTokenCount: usage.input + (usage.cached ?? 0) + usage.output + (usage.thoughts ?? 0),
      ...(usage.cached ? { cachedContentTokenCount: usage.cached } : {}),
      ...(usage.thoughts ? { thoughtsTokenCount: usage.thoughts } : {}),
    },
    modelVersion: model,
    responseId: `stub-${Math.random().toString(36).slice(2)}`,
  };
}

/** The CLI's side questions ask for JSON (a response schema); answer with a harmless one. */
function sideAnswer(body: any): unknown[] {
  const schema = body?.generationConfig?.responseJsonSchema ?? body?.generationConfig?.responseSchema;
  const properties: Record<string, { type?: string; enum?: string[] }> = schema?.properties ?? {};
  const answer: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    const type = String(property.type ?? "string").toLowerCase();
    answer[key] = property.enum?.[0] ?? (type === "boolean" ? false : type === "number" || type === "integer" ? 1 : type === "array" ? [] : "");
  }
  return [{ text: JSON.stringify(answer) }];
}

function googleError(code: number, message: string, status: string) {
  return { error: { code, message, status } };
}

function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve, reject) => res.write(text, (error) => (error ? reject(error) : resolve())));
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
