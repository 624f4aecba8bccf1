// Reads a JSON request body with a hard size cap, so one request cannot make the daemon
// buffer more than MAX_JSON_BODY_BYTES. An oversized body is still read to its end and
// thrown away before the 413 goes out: answering while the client is still sending lets
// the connection close under it (EPIPE) and the client may never see the answer. The only
// client is the control plane, and node:http's request timeout bounds a body that never ends.
import { MAX_JSON_BODY_BYTES } from "../protocol.ts";
import { SupervisorError } from "./errors.ts";
import type { SupervisorRequest } from "./http-types.ts";

export function readJsonBody(request: SupervisorRequest, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers["content-length"]);
  const body = request.body;
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number.isFinite(declared) && declared > limit;
    let settled = false;
    const settle = (error: SupervisorError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      chunks = [];
      if (error) reject(error);
      else resolve(value);
    };
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (tooLarge) chunks = [];
      else chunks.push(chunk);
    });
    body.once("end", () => {
      if (tooLarge) return settle(new SupervisorError("PAYLOAD_TOO_LARGE", `The JSON body is larger than ${limit} bytes.`));
      const text = Buffer.concat(chunks, size).toString("utf8");
      if (text.trim() === "") return settle(new SupervisorError("INVALID_JSON", "The request needs a JSON body."));
      try {
        settle(null, JSON.parse(text));
      } catch (error) {
        settle(new SupervisorError("INVALID_JSON", `The body is not valid JSON: ${(error as Error).message}`));
      }
    });
    // The client went away mid-body: nobody will read the answer, but the handler must end.
    body.once("close", () => settle(new SupervisorError("INVALID_JSON", "The request body ended early.")));
    body.once("error", () => settle(new SupervisorError("INVALID_JSON", "The request body could not be read.")));
  });
}
