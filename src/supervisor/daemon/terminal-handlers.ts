// HTTP handlers of the terminal routes (docs/supervisor-protocol.md, "Terminal sessions"):
//   POST   /v1/terminals             {cols, rows, cwd?, env?} → 201 Terminal
//   GET    /v1/terminals             → 200 {items: Terminal[]}
//   GET    /v1/terminals/{id}        → 200 Terminal
//   DELETE /v1/terminals/{id}        → 200 {id, exitCode, signal} once the shell has ended
//   POST   /v1/terminals/{id}/attach?cols=&rows=   frames both ways:
//     in:  5 stdin (raw bytes), 6 resize {cols, rows}
//     out: 10 screen {cols, rows} then stdout frames with the redraw; stdout (live output);
//          another screen + redraw whenever the client fell too far behind; 4 exit last.
// Closing the attach stream detaches the client; the shell keeps running.
import { FRAME, FRAMES_CONTENT_TYPE, FrameDecoder, frameJson } from "../frames.ts";
import { MAX_TERMINAL_CLIENTS, MAX_TERMINAL_SIZE } from "../protocol-schemas.ts";
import { readJsonBody } from "./body.ts";
import { invalid, SupervisorError } from "./errors.ts";
import type { SupervisorRequest } from "./http-types.ts";
import { sendJson } from "./respond.ts";
import type { Router } from "./router.ts";
import { AttachedClient } from "./terminal-client.ts";
import type { TerminalManager } from "./terminals.ts";
import { parseCreateTerminalRequest } from "./validate.ts";

/** Input frames are keystrokes and pastes: a frame over this is not a client of ours. */
const MAX_INPUT_FRAME_BYTES = 256 * 1024;

const isSize = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_TERMINAL_SIZE;

/** `?cols=&rows=`: both or neither. */
function querySize(request: SupervisorRequest): { cols: number; rows: number } | null {
  const cols = request.query.get("cols");
  const rows = request.query.get("rows");
  if (cols === null && rows === null) return null;
  const size = { cols: Number(cols), rows: Number(rows) };
  if (!/^\d{1,4}$/.test(cols ?? "") || !/^\d{1,4}$/.test(rows ?? "") || !isSize(size.cols) || !isSize(size.rows)) {
    throw invalid(`'cols' and 'rows' must both be integers from 1 to ${MAX_TERMINAL_SIZE}.`);
  }
  return size;
}

export function addTerminalRoutes(router: Router, terminals: TerminalManager): void {
  router
    .add("POST", "/v1/terminals", async (request, response) => {
      const body = parseCreateTerminalRequest(await readJsonBody(request));
      sendJson(response, 201, await terminals.create(body));
    })
    .add("GET", "/v1/terminals", async (_request, response) => {
      sendJson(response, 200, { items: terminals.list() });
    })
    .add("GET", "/v1/terminals/{id}", async (_request, response, params) => {
      sendJson(response, 200, terminals.get(params.id ?? "").info);
    })
    .add("DELETE", "/v1/terminals/{id}", async (_request, response, params) => {
      const { id, exitCode, signal } = await terminals.get(params.id ?? "").kill();
      sendJson(response, 200, { id, exitCode, signal });
    })
    .add("POST", "/v1/terminals/{id}/attach", async (request, response, params) => {
      const session = terminals.get(params.id ?? "");
      const size = querySize(request);
      if (session.info.clients >= MAX_TERMINAL_CLIENTS) {
        throw new SupervisorError("TERMINAL_LIMIT_REACHED", `At most ${MAX_TERMINAL_CLIENTS} clients may watch one terminal.`);
      }
      // The new client's size first, so its screen comes already laid out for it.
      if (size) session.resize(size.cols, size.rows);
      response.start(200, { "content-type": FRAMES_CONTENT_TYPE, "cache-control": "no-store" });
      const client = new AttachedClient(response, (behind) => session.attach(behind));
      const gone = new Promise<void>((resolve) => {
        if (request.signal.aborted) resolve();
        else request.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      session.attach(client);
      try {
        const decoder = new FrameDecoder(MAX_INPUT_FRAME_BYTES);
        for await (const chunk of request.body) {
          for (const frame of decoder.push(chunk as Buffer)) {
            if (frame.type === FRAME.stdin) {
              // A shell that does not read its input stops this client's input, not the daemon's memory.
              if (!session.write(frame.payload)) await session.drain();
            } else if (frame.type === FRAME.resize) {
              const { cols, rows } = frameJson(frame);
              if (isSize(cols) && isSize(rows)) session.resize(cols, rows);
            }
          }
        }
        // The control plane closed its side: it may still read until the shell ends.
        await Promise.race([session.done, gone]);
      } catch {
        // Unreadable input or a cancelled stream: this client is done, the shell is not.
      } finally {
        session.detach(client);
        if (!response.closed && !session.exited) response.end();
      }
    });
}
