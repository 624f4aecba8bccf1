// POST /api/v1/sandboxes/{id}/exec: runs a command through the sandbox's supervisor.
// JSON mode collects output up to a cap per stream (the command still runs to the end and
// the rest is counted, never buffered); with `Accept: text/event-stream` every chunk is
// streamed as it comes, with backpressure all the way to the process; with
// `Accept: application/vnd.outpost.frames` the same events come as binary frames with the
// output as raw bytes (for throughput: no base64, no JSON per chunk). A client that goes
// away ends the command.

import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses, idParam } from "../../schemas/common.ts";
import { execBody, execResult } from "../../schemas/sandboxes.ts";
import type { SandboxCommands } from "../../services/sandbox-commands.ts";
import { FRAME, FRAMES_CONTENT_TYPE } from "../../supervisor/frames.ts";
import { currentPrincipal } from "../auth.ts";
import { clientGone } from "../client-gone.ts";
import { FrameStream } from "../frame-stream.ts";
import { cleanBase64, SseStream } from "../sse.ts";

/** Per stream, in JSON mode. */
export const EXEC_OUTPUT_CAP_BYTES = 1024 * 1024;

export function execRoutes(app: FastifyInstance, commands: SandboxCommands): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/v1/sandboxes/:id/exec",
    {
      schema: {
        tags: ["sandboxes"],
        summary: "Run a command in a sandbox",
        description:
          "JSON answer with the output (each stream capped at 1 MiB, `truncated` says so); with `Accept: text/event-stream` a stream of `started`, `stdout`/`stderr` (`data` is base64) and one `exit` event; with `Accept: application/vnd.outpost.frames` the same events as binary frames `[type u8][length u32 BE][payload]` (1 stdout and 2 stderr: raw bytes; 3 started, 4 exit, 7 error: JSON), for throughput. Disconnecting ends the command.",
        params: idParam,
        body: execBody,
        response: { 200: execResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const sandbox = request.params.id;
      const accept = request.headers.accept ?? "";
      const wantsStream = accept.includes("text/event-stream");
      const gone = clientGone(reply);

      if (accept.includes(FRAMES_CONTENT_TYPE)) {
        const events = await commands.execFrames(principal, sandbox, request.body, { signal: gone.signal });
        const stream = new FrameStream(reply, request.id);
        stream.signal.addEventListener("abort", () => gone.abort());
        try {
          for await (const event of events) {
            if (event.type === "stdout" || event.type === "stderr") await stream.bytes(event.type === "stdout" ? FRAME.stdout : FRAME.stderr, event.data);
            else {
              const { type, ...data } = event;
              await stream.json(type === "started" ? FRAME.started : FRAME.exit, data);
            }
          }
        } catch (error) {
          if (!gone.signal.aborted) await stream.error(commands.describe(error));
        } finally {
          stream.end();
        }
        return;
      }

      if (wantsStream) {
        // Start before hijacking so a refused command is still a plain JSON error.
        const events = await commands.exec(principal, sandbox, request.body, { signal: gone.signal });
        const stream = new SseStream(reply, request.id);
        stream.signal.addEventListener("abort", () => gone.abort());
        let seq = 0;
        try {
          for await (const event of events) {
            if (event.type === "stdout" || event.type === "stderr") {
              await stream.sendJson({ id: ++seq, type: event.type, json: `{"data":"${cleanBase64(event.data)}"}` });
              continue;
            }
            const { type, ...data } = event;
            await stream.send({ id: ++seq, type, data });
          }
        } catch (error) {
          if (!gone.signal.aborted) await stream.send({ type: "error", data: commands.describe(error) });
        } finally {
          stream.end();
        }
        return;
      }

      const events = await commands.exec(principal, sandbox, request.body, { signal: gone.signal });
      const out = new CappedBuffer(EXEC_OUTPUT_CAP_BYTES);
      const err = new CappedBuffer(EXEC_OUTPUT_CAP_BYTES);
      try {
        for await (const event of events) {
          if (event.type === "stdout") out.add(Buffer.from(event.data, "base64"));
          else if (event.type === "stderr") err.add(Buffer.from(event.data, "base64"));
          else if (event.type === "exit") {
            return {
              exitCode: event.exitCode,
              signal: event.signal,
              timedOut: event.timedOut,
              stdout: out.text(),
              stderr: err.text(),
              truncated: out.dropped > 0 || err.dropped > 0,
              durationMs: Math.round(event.durationMs),
            };
          }
        }
      } catch (error) {
        throw commands.translate(error);
      }
      throw commands.translate(new Error("the supervisor ended the exec stream without an exit"));
    },
  );
}

/** Keeps the first `cap` bytes and counts the rest. */
class CappedBuffer {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  dropped = 0;

  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    const room = this.cap - this.#size;
    if (room > 0) {
      const kept = chunk.subarray(0, room);
      this.#chunks.push(kept);
      this.#size += kept.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
  }

  text(): string {
    const body = Buffer.concat(this.#chunks).toString("utf8");
    return this.dropped > 0 ? `${body}\n[outpost: output truncated, ${this.dropped} more bytes not shown]\n` : body;
  }
}
