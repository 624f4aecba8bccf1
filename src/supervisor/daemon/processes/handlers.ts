// HTTP handlers of the background-process routes (see docs/supervisor-protocol.md).
import { NDJSON_CONTENT_TYPE, PROCESS_ID_PATTERN } from "../../protocol.ts";
import { MAX_PROCESS_INPUT_BODY_BYTES, MAX_PROCESS_INPUT_BYTES, processInputRequestSchema } from "../../protocol-schemas.ts";
import { readJsonBody } from "../body.ts";
import { invalid, SupervisorError } from "../errors.ts";
import { sendJson } from "../respond.ts";
import type { Router } from "../router.ts";
import { parseSignalRequest, parseStartProcessRequest, parseWith } from "../validate.ts";
import { streamLog } from "./log-reader.ts";
import type { ProcessManager } from "./manager.ts";

/** The id also names a folder under the state dir: anything but a well-formed id is "not found". */
function processId(params: Record<string, string>): string {
  const id = params.id ?? "";
  if (!PROCESS_ID_PATTERN.test(id)) throw new SupervisorError("PROCESS_NOT_FOUND", `No process '${id}'.`);
  return id;
}

function parseAfter(value: string | null): number {
  if (value === null || value === "") return 0;
  if (!/^\d{1,15}$/.test(value)) throw invalid("'after' must be a non-negative integer (a seq).");
  return Number(value);
}

/** Decoded size of padded base64, known before decoding: too much is 413, as for a body. */
function decodeInput(data: string): Buffer {
  const padding = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
  const bytes = (data.length / 4) * 3 - padding;
  if (bytes > MAX_PROCESS_INPUT_BYTES) {
    throw new SupervisorError("PAYLOAD_TOO_LARGE", `The input is ${bytes} bytes; one call takes at most ${MAX_PROCESS_INPUT_BYTES}.`);
  }
  return Buffer.from(data, "base64");
}

function parseFollow(value: string | null): boolean {
  if (value === null || value === "" || value === "0" || value === "false") return false;
  if (value === "1" || value === "true") return true;
  throw invalid("'follow' must be 1 or 0.");
}

export function addProcessRoutes(router: Router, processes: ProcessManager): void {
  router
    .add("POST", "/v1/processes", async (request, response) => {
      const body = parseStartProcessRequest(await readJsonBody(request));
      sendJson(response, 201, await processes.start(body));
    })
    .add("GET", "/v1/processes", async (_request, response) => {
      sendJson(response, 200, { items: processes.list() });
    })
    .add("GET", "/v1/processes/{id}", async (_request, response, params) => {
      sendJson(response, 200, { ...processes.get(processId(params)).process });
    })
    .add("GET", "/v1/processes/{id}/logs", async (request, response, params) => {
      const entry = processes.get(processId(params));
      const after = parseAfter(request.query.get("after"));
      const follow = parseFollow(request.query.get("follow"));
      response.start(200, { "content-type": NDJSON_CONTENT_TYPE, "cache-control": "no-store" });
      await streamLog(entry, { after, follow, signal: request.signal }, response);
    })
    .add("POST", "/v1/processes/{id}/signal", async (request, response, params) => {
      const id = processId(params);
      const { signal } = parseSignalRequest(await readJsonBody(request));
      sendJson(response, 202, processes.signal(id, signal));
    })
    .add("POST", "/v1/processes/{id}/input", async (request, response, params) => {
      const id = processId(params);
      // Room for 1 MiB of input in base64, which is more than the usual JSON body cap.
      const body = parseWith(processInputRequestSchema, await readJsonBody(request, MAX_PROCESS_INPUT_BODY_BYTES));
      const data = decodeInput(body.data);
      sendJson(response, 202, await processes.input(id, data, body.eof === true, request.signal));
    });
}
