// Reads a JSON request body with a hard size cap, so one request cannot make the daemon
// buffer more than MAX_JSON_BODY_BYTES. Past the cap the rest of the body is still read
// and thrown away (not the connection torn down): a client that is still sending would
// otherwise get EPIPE instead of the 413 answer.
import { MAX_JSON_BODY_BYTES } from "../protocol.ts";
import { SupervisorError } from "./errors.ts";
import type { SupervisorRequest } from "./http-types.ts";

export function readJsonBody(request: SupervisorRequest, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const tooLarge = () => new SupervisorError("PAYLOAD_TOO_LARGE", `The JSON body is larger than ${limit} bytes.`);
  const declared = Number(request.headers["content-length"]);
  const body = request.body;
  if (Number.isFinite(declared) && declared > limit) {
    body.resume(); // discard
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: SupervisorError) => {
      settled = true;
      chunks = [];
      reject(error);
    };
    body.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) fail(tooLarge());
      else chunks.push(chunk);
    });
    body.once("end", () => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks, size).toString("utf8");
      if (text.trim() === "") return reject(new SupervisorError("INVALID_JSON", "The request needs a JSON body."));
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new SupervisorError("INVALID_JSON", `The body is not valid JSON: ${(error as Error).message}`));
      }
    });
    // The client went away mid-body: nobody will read the answer, but the handler must end.
    body.once("close", () => {
      if (!settled) fail(new SupervisorError("INVALID_JSON", "The request body ended early."));
    });
    body.once("error", () => {
      if (!settled) fail(new SupervisorError("INVALID_JSON", "The request body could not be read."));
    });
  });
}
